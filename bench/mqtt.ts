/**
 * MQTT edge benchmark (issue 5), in one run against
 *   - the broker (mosquitto) directly,
 *   - Zonegate (its own process, routing by client id on the example map),
 *   - HAProxy routing by CONNECT client id (mqtt_field_value), when installed;
 * measuring connects/s, QoS 0 and QoS 1 messages/s (one publisher, one subscriber, 64-byte
 * payloads, QoS 1 with 64 in flight; median of 3 interleaved rounds), Zonegate's memory per
 * idle connection (plain and TLS), and the time to migrate N subscribed clients on a zone flip
 * with the QoS 1 messages lost; and the same with slow subscribers in the mix (a share of the
 * clients acknowledging each message late, with a backlog queued for them at the old broker
 * when the zone flips): lost, duplicated and drained messages, move and drain time.
 *
 *   npx tsx bench/mqtt.ts [--conns 5000] [--messages 100000] [--migrate 2000] [--mps 1000]
 *                         [--slow 400] [--slow-share 0.3] [--late-ms 2000] [--backlog 40]
 *   npx tsx bench/mqtt.ts --conns 20000      # needs ulimit -n >= 2 x conns + slack (gateway side)
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCa, issueCert } from '../src/certs/index.js';
import { FrameReader, type FrameSink } from '../src/mqtt/frame-reader.js';
import { MqttServer } from '../src/mqtt/index.js';
import { ackId, publishIdOffset, topicEnd } from '../src/mqtt/publish.js';
import { compileZoneMap, validateZoneMap, ZoneMapHolder, type ZoneMapDoc } from '../src/zonemap/index.js';
import { freePort, startMosquitto, type Mosquitto } from '../test/helpers/mosquitto.js';
import { loadExampleDoc } from '../test/mqtt/fixture.js';
import { median, table } from './table.js';

const SELF = fileURLToPath(import.meta.url);
const HERE = fileURLToPath(new URL('.', import.meta.url));

/* ------------------------------------------------------------------ packets */

function str(s: string): Buffer {
  const b = Buffer.from(s);
  const l = Buffer.alloc(2);
  l.writeUInt16BE(b.length);
  return Buffer.concat([l, b]);
}

function frame(first: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}

/** MQTT 3.1.1 CONNECT, clean session, no keepalive (idle connections must stay idle). */
function connectPacket(clientId: string, keepalive = 0): Buffer {
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(keepalive);
  return frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02]), ka, str(clientId)]));
}

function subscribePacket(topic: string, qos: number, id = 1): Buffer {
  const pid = Buffer.alloc(2);
  pid.writeUInt16BE(id);
  return frame(0x82, Buffer.concat([pid, str(topic), Buffer.from([qos])]));
}

function publishPacket(topic: string, payload: Buffer, qos: number, id: number): Buffer {
  if (qos === 0) return frame(0x30, Buffer.concat([str(topic), payload]));
  const pid = Buffer.alloc(2);
  pid.writeUInt16BE(id);
  return frame(0x30 | (qos << 1), Buffer.concat([str(topic), pid, payload]));
}

function puback(id: number): Buffer {
  return Buffer.from([0x40, 0x02, id >> 8, id & 0xff]);
}

/* ------------------------------------------------------------------ raw client */

class Client implements FrameSink {
  readonly socket: net.Socket;
  private readonly reader = new FrameReader(this, 1 << 20);
  connack: Promise<void>;
  private connackResolve!: () => void;
  private connackReject!: (e: Error) => void;
  suback: Promise<void>;
  private subackResolve!: () => void;
  received = 0;
  acked = 0;
  onAck: (() => void) | null = null;
  onPublish: ((payload: Buffer) => void) | null = null;
  closed = false;
  /** Acknowledge each QoS 1 delivery this long after it arrived (a slow phone); 0: at once. */
  ackDelayMs = 0;

  constructor(port: number, clientId: string, secure: tls.ConnectionOptions | null = null) {
    this.connack = new Promise((res, rej) => {
      this.connackResolve = res;
      this.connackReject = rej;
    });
    this.suback = new Promise((res) => (this.subackResolve = res));
    this.connack.catch(() => undefined);
    const c = connectPacket(clientId);
    this.socket =
      secure === null
        ? net.connect({ host: '127.0.0.1', port, noDelay: true }, () => this.socket.write(c))
        : tls.connect({ host: '127.0.0.1', port, ...secure }, () => this.socket.write(c));
    this.socket.on('data', (d: Buffer) => this.reader.push(d));
    this.socket.on('error', (e) => this.connackReject(e));
    this.socket.on('close', () => {
      this.closed = true;
      this.connackReject(new Error(`${clientId}: closed`));
    });
  }

  onFrame(f: Buffer, hl: number): boolean {
    const type = (f[0] as number) >> 4;
    if (type === 2) {
      if (f[3] === 0) this.connackResolve();
      else this.connackReject(new Error(`CONNACK ${String(f[3])}`));
    } else if (type === 9) {
      this.subackResolve();
    } else if (type === 3) {
      this.received++;
      const qos = ((f[0] as number) >> 1) & 3;
      const te = topicEnd(f, hl);
      if (qos > 0) {
        const at = publishIdOffset(f, te);
        const ack = puback(f.readUInt16BE(at));
        if (this.ackDelayMs > 0) setTimeout(writeIfOpen, this.ackDelayMs, this.socket, ack);
        else this.socket.write(ack);
        this.onPublish?.(f.subarray(at + 2));
      } else {
        this.onPublish?.(f.subarray(te));
      }
    } else if (type === 4) {
      this.acked++;
      void ackId(f, hl);
      this.onAck?.();
    }
    return true;
  }

  onFrameError(): void {
    this.socket.destroy();
  }

  close(): void {
    this.socket.destroy();
  }
}

function writeIfOpen(socket: net.Socket, b: Buffer): void {
  if (!socket.destroyed) socket.write(b);
}

/* ------------------------------------------------------------------ gateway child */

interface GatewayReply {
  readonly id: number;
  readonly [k: string]: unknown;
}

async function roleGateway(mapPath: string, certDir: string, mps: number): Promise<void> {
  const doc = JSON.parse(readFileSync(mapPath, 'utf8')) as ZoneMapDoc;
  const holder = new ZoneMapHolder(compileZoneMap(doc));
  const server = new MqttServer({
    holder,
    self: { idc: 'hz-1', crossIdc: 'direct' },
    config: { migration: { movesPerSecond: mps }, limits: { maxConnections: 1_000_000 } },
  });
  const plain = await server.listen({ port: 0 });
  const secure = await server.listen({
    port: 0,
    tls: { cert: readFileSync(join(certDir, 'server.pem')), key: readFileSync(join(certDir, 'server.key')) },
  });
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  process.on('message', (m: { id: number; cmd: string }) => {
    const reply = (o: object): void => void process.send?.({ id: m.id, ...o });
    switch (m.cmd) {
      case 'mem':
        gc();
        gc();
        reply({ ...process.memoryUsage() });
        break;
      case 'flip': {
        const next = structuredClone(doc) as { version: number; zones: Record<string, { status?: string }> };
        next.version = holder.current.version + 1;
        (next.zones.rz00 as { status?: string }).status = 'down';
        const v = validateZoneMap(next);
        if (v.ok) holder.swap(compileZoneMap(v.doc));
        reply({ ok: v.ok });
        break;
      }
      case 'stats':
        reply({
          active: server.connectionCount,
          movesOk: server.stats.movesOk,
          movesFailed: server.stats.movesFailed,
          drainedMessages: server.stats.drainedMessages,
          drainsDone: server.stats.drainsDone,
          drainsAbandoned: [...server.stats.drainsAbandoned.values()].reduce((a, b) => a + b, 0),
        });
        break;
      case 'restore':
        {
          const next = structuredClone(doc) as { version: number };
          next.version = holder.current.version + 1;
          const v = validateZoneMap(next);
          if (v.ok) holder.swap(compileZoneMap(v.doc));
          reply({ ok: v.ok });
          break;
        }
        break;
      default:
        reply({});
    }
  });
  process.send?.({ id: 0, port: plain.port, tlsPort: secure.port });
}

class GatewayProcess {
  private readonly child: ChildProcess;
  private next = 1;
  private readonly waiting = new Map<number, (r: GatewayReply) => void>();
  port = 0;
  tlsPort = 0;
  readonly ready: Promise<void>;

  constructor(mapPath: string, certDir: string, mps: number) {
    this.child = fork(
      SELF,
      ['--role', 'gateway', '--map', mapPath, '--certs', certDir, '--mps', String(mps)],
      {
        execArgv: ['--import', 'tsx', '--expose-gc'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    this.ready = new Promise((resolve) => {
      this.child.on('message', (r: GatewayReply) => {
        if (r.id === 0) {
          this.port = r.port as number;
          this.tlsPort = r.tlsPort as number;
          resolve();
          return;
        }
        this.waiting.get(r.id)?.(r);
        this.waiting.delete(r.id);
      });
    });
  }

  ask(cmd: string): Promise<GatewayReply> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ id, cmd });
    });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

/* ------------------------------------------------------------------ measurements */

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function connectMany(
  port: number,
  n: number,
  prefix: string,
  secure: tls.ConnectionOptions | null = null,
): Promise<{ clients: Client[]; perSec: number; failed: number }> {
  const clients: Client[] = [];
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      // uids 100..109 (shards 00-09): rz00
      const c = new Client(port, `10${i % 10}-${prefix}-${i}`, secure);
      try {
        await c.connack;
        clients.push(c);
      } catch {
        failed++;
        c.close();
      }
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  const s = (performance.now() - t0) / 1000;
  return { clients, perSec: clients.length / s, failed };
}

async function throughput(port: number, qos: 0 | 1, messages: number, tag: string): Promise<number> {
  const sub = new Client(port, `100-sub-${tag}-${qos}`);
  const pub = new Client(port, `101-pub-${tag}-${qos}`);
  await Promise.all([sub.connack, pub.connack]);
  const topic = `bench/${tag}/${qos}`;
  sub.socket.write(subscribePacket(topic, qos));
  await sub.suback;
  const payload = Buffer.alloc(64, 0x61);
  const t0 = performance.now();
  if (qos === 0) {
    const batch = Buffer.concat(Array.from({ length: 100 }, () => publishPacket(topic, payload, 0, 0)));
    for (let sent = 0; sent < messages; sent += 100) {
      if (!pub.socket.write(batch)) await new Promise((r) => pub.socket.once('drain', r));
    }
  } else {
    let sent = 0;
    let id = 0;
    const window = 64;
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (sent < messages && sent - pub.acked < window) {
          id = id === 65_535 ? 1 : id + 1;
          pub.socket.write(publishPacket(topic, payload, 1, id));
          sent++;
        }
        if (pub.acked >= messages) resolve();
      };
      pub.onAck = pump;
      pump();
    });
  }
  const deadline = performance.now() + 30_000;
  let last = -1;
  let stall = performance.now();
  while (sub.received < messages && performance.now() < deadline) {
    await sleep(5);
    if (sub.received !== last) {
      last = sub.received;
      stall = performance.now();
    } else if (performance.now() - stall > 2000) break; // QoS 0 drops: stop waiting
  }
  const s = (performance.now() - t0) / 1000;
  const rate = sub.received / s;
  sub.close();
  pub.close();
  return rate;
}

async function closeAll(clients: Client[]): Promise<void> {
  for (const c of clients) c.close();
  await sleep(200);
}

/**
 * N clients through Zonegate on rz00, each subscribed (QoS 1) to its own topic. Publishers at
 * both brokers send numbered QoS 1 messages round-robin over the clients' topics (2,000/s per
 * broker in total, whatever N), before, during and after the flip rz00 -> down. Every client
 * must receive every number published to its topic (from either broker).
 */
async function migration(
  gw: GatewayProcess,
  brokers: Mosquitto[],
  n: number,
): Promise<{ n: number; seconds: number; lost: number; messages: number; failed: number }> {
  const { clients } = await connectMany(gw.port, n, 'mig');
  clients.forEach((c, i) => c.socket.write(subscribePacket(`mig/${i}`, 1)));
  await Promise.all(clients.map((c) => c.suback));
  const seen = clients.map(() => new Set<number>());
  clients.forEach((c, i) => (c.onPublish = (p) => seen[i]?.add(p.readUInt32BE(0))));
  const published = new Uint32Array(clients.length);
  const pubs = [
    new Client(brokers[0]?.port as number, 'pub-mig-a'),
    new Client(brokers[1]?.port as number, 'pub-mig-b'),
  ];
  await Promise.all(pubs.map((p) => p.connack));
  let cursor = 0;
  let id = 0;
  let total = 0;
  const timer = setInterval(() => {
    for (let k = 0; k < 20 && clients.length > 0; k++) {
      const i = cursor;
      cursor = (cursor + 1) % clients.length;
      const b = Buffer.alloc(4);
      b.writeUInt32BE(published[i] as number);
      published[i] = (published[i] as number) + 1;
      id = id === 65_535 ? 1 : id + 1;
      for (const p of pubs) p.socket.write(publishPacket(`mig/${i}`, b, 1, id));
      total++;
    }
  }, 10);
  await sleep(500);
  const before = await gw.ask('stats');
  const t0 = performance.now();
  await gw.ask('flip');
  let moved = 0;
  let failed = 0;
  while (performance.now() - t0 < 120_000) {
    const now = await gw.ask('stats');
    moved = (now.movesOk as number) - (before.movesOk as number);
    failed = (now.movesFailed as number) - (before.movesFailed as number);
    if (moved + failed >= clients.length) break;
    await sleep(20);
  }
  const seconds = (performance.now() - t0) / 1000;
  await sleep(1000);
  clearInterval(timer);
  await sleep(2000);
  let lost = 0;
  seen.forEach((s, i) => {
    for (let k = 0; k < (published[i] as number); k++) if (!s.has(k)) lost++;
  });
  for (const p of pubs) p.close();
  await closeAll(clients);
  return { n: moved, seconds, lost, messages: total, failed };
}

interface SlowResult {
  readonly n: number;
  readonly slow: number;
  readonly failed: number;
  readonly moveSeconds: number;
  readonly drainSeconds: number;
  readonly expected: number;
  readonly lost: number;
  readonly lostSlow: number;
  readonly duplicated: number;
  readonly drained: number;
  readonly abandoned: number;
}

/**
 * N clients through Zonegate on rz00, each subscribed (QoS 1) to its own topic; a share of them
 * acknowledges every message `lateMs` after it arrived. Just before the flip a backlog of
 * numbered messages per client is published at rz00 only (most of it still queued there for
 * the slow ones when the move starts); once every client switched, more at rz02 only. Every
 * client must get every number once: lost = never received, duplicated = received twice.
 */
async function slowMigration(
  gw: GatewayProcess,
  brokers: Mosquitto[],
  n: number,
  share: number,
  lateMs: number,
  backlog: number,
): Promise<SlowResult> {
  const { clients } = await connectMany(gw.port, n, 'slow');
  clients.forEach((c, i) => {
    // Spread evenly: client i is slow when the running share crosses an integer.
    if (Math.floor((i + 1) * share) > Math.floor(i * share)) c.ackDelayMs = lateMs;
    c.socket.write(subscribePacket(`slow/${i}`, 1));
  });
  await Promise.all(clients.map((c) => c.suback));
  const counts = clients.map(() => new Map<number, number>());
  clients.forEach((c, i) => {
    c.onPublish = (p) => {
      const k = p.readUInt32BE(0);
      const m = counts[i] as Map<number, number>;
      m.set(k, (m.get(k) ?? 0) + 1);
    };
  });
  const publish = async (broker: Mosquitto, from: number, per: number): Promise<void> => {
    const pub = new Client(broker.port, `pub-slow-${from}`);
    await pub.connack;
    let id = 0;
    for (let k = from; k < from + per; k++) {
      for (let i = 0; i < clients.length; i++) {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(k);
        id = id === 65_535 ? 1 : id + 1;
        pub.socket.write(publishPacket(`slow/${i}`, b, 1, id));
      }
    }
    const total = per * clients.length;
    while (pub.acked < total && !pub.closed) await sleep(10);
    pub.close();
  };
  const before = await gw.ask('stats');
  await publish(brokers[0] as Mosquitto, 0, backlog);
  const t0 = performance.now();
  await gw.ask('flip');
  let now = before;
  const moved = (): number => (now.movesOk as number) - (before.movesOk as number);
  const failed = (): number => (now.movesFailed as number) - (before.movesFailed as number);
  const drains = (): number =>
    (now.drainsDone as number) +
    (now.drainsAbandoned as number) -
    (before.drainsDone as number) -
    (before.drainsAbandoned as number);
  while (performance.now() - t0 < 120_000 && moved() + failed() < clients.length) {
    await sleep(20);
    now = await gw.ask('stats');
  }
  const moveSeconds = (performance.now() - t0) / 1000;
  await publish(brokers[1] as Mosquitto, backlog, 10);
  while (performance.now() - t0 < 180_000 && drains() < moved()) {
    await sleep(20);
    now = await gw.ask('stats');
  }
  const drainSeconds = (performance.now() - t0) / 1000;
  const expected = backlog + 10;
  // Deliveries still on their way to late acknowledgers: wait until every client has all or
  // nothing arrives any more.
  let last = -1;
  for (;;) {
    const got = counts.reduce((a, m) => a + m.size, 0);
    if (got === expected * clients.length || got === last) break;
    last = got;
    await sleep(lateMs + 500);
  }
  let lost = 0;
  let lostSlow = 0;
  let duplicated = 0;
  counts.forEach((m, i) => {
    for (let k = 0; k < expected; k++) {
      const c = m.get(k) ?? 0;
      if (c === 0) {
        lost++;
        if ((clients[i] as Client).ackDelayMs > 0) lostSlow++;
      } else duplicated += c - 1;
    }
  });
  await closeAll(clients);
  return {
    n: moved(),
    slow: clients.filter((c) => c.ackDelayMs > 0).length,
    failed: failed(),
    moveSeconds,
    drainSeconds,
    expected: expected * clients.length,
    lost,
    lostSlow,
    duplicated,
    drained: (now.drainedMessages as number) - (before.drainedMessages as number),
    abandoned: (now.drainsAbandoned as number) - (before.drainsAbandoned as number),
  };
}

function fdLimit(hard = false): number {
  const r = spawnSync('sh', ['-c', hard ? 'ulimit -Hn' : 'ulimit -n'], { encoding: 'utf8' });
  const v = r.stdout.trim();
  return v === 'unlimited' ? 1_048_576 : Number(v) || 1024;
}

/**
 * Big runs need more descriptors than the default soft limit: re-run this benchmark under a
 * shell that raised `ulimit -n` as far as the hard limit allows (children inherit it).
 */
function reexecWithMoreFds(needed: number): boolean {
  if (process.env.ZG_BENCH_FDS_RAISED === '1') return false;
  const soft = fdLimit();
  const hard = fdLimit(true);
  if (soft >= needed || hard <= soft) return false;
  const target = Math.min(hard, needed);
  const args = [...process.execArgv, SELF, ...process.argv.slice(2)].map(
    (a) => `'${a.replace(/'/g, "'\\''")}'`,
  );
  const r = spawnSync('sh', ['-c', `ulimit -n ${target} && exec '${process.execPath}' ${args.join(' ')}`], {
    stdio: 'inherit',
    env: { ...process.env, ZG_BENCH_FDS_RAISED: '1' },
  });
  process.exit(r.status ?? 1);
}

/* ------------------------------------------------------------------ main */

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      map: { type: 'string' },
      certs: { type: 'string' },
      conns: { type: 'string', default: '5000' },
      messages: { type: 'string', default: '100000' },
      migrate: { type: 'string', default: '2000' },
      mps: { type: 'string', default: '1000' },
      slow: { type: 'string', default: '400' },
      'slow-share': { type: 'string', default: '0.3' },
      'late-ms': { type: 'string', default: '2000' },
      backlog: { type: 'string', default: '40' },
    },
  });
  if (values.role === 'gateway') {
    await roleGateway(values.map as string, values.certs as string, Number(values.mps));
    return;
  }
  let conns = Number(values.conns);
  reexecWithMoreFds(conns * 2 + 500);
  const limit = fdLimit();
  // The gateway holds two descriptors per client connection (client + broker).
  if (conns * 2 + 200 > limit) {
    console.log(
      `note: ulimit -n is ${limit}; capping connections at ${Math.floor((limit - 200) / 2)} (raise it for more)`,
    );
    conns = Math.floor((limit - 200) / 2);
  }
  const messages = Number(values.messages);
  const dir = mkdtempSync(join(tmpdir(), 'zg-bench-mqtt-'));
  const ca = await createCa('bench CA');
  const cert = await issueCert(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  writeFileSync(join(dir, 'server.pem'), cert.certPem);
  writeFileSync(join(dir, 'server.key'), cert.keyPem);
  const brokers = [
    await startMosquitto({ extraConfig: ['max_connections -1'] }),
    await startMosquitto({ extraConfig: ['max_connections -1'] }),
  ];
  const dead = `127.0.0.1:${await freePort()}`;
  const writeMap = (file: string, rz00: Mosquitto, rz02: Mosquitto): string => {
    const doc = loadExampleDoc();
    for (const [name, zone] of Object.entries(doc.zones)) {
      const b = name === 'rz00' ? rz00 : name === 'rz02' ? rz02 : null;
      zone.upstreams = { ...zone.upstreams, mqtt: [b === null ? dead : b.address] };
    }
    const path = join(dir, file);
    writeFileSync(path, JSON.stringify(doc));
    return path;
  };
  const mapPath = writeMap('map.json', brokers[0] as Mosquitto, brokers[1] as Mosquitto);
  const gw = new GatewayProcess(mapPath, dir, Number(values.mps));
  await gw.ready;
  let haproxy: ChildProcess | null = null;
  let haproxyPort = 0;
  if (spawnSync('sh', ['-c', 'command -v haproxy'], { stdio: 'ignore' }).status === 0) {
    haproxyPort = await freePort();
    const cfg = readFileSync(join(HERE, 'haproxy-mqtt.cfg.tmpl'), 'utf8')
      .replace('{{PORT}}', String(haproxyPort))
      .replace('{{MAXCONN}}', String(Math.min(conns + 1000, Math.floor((limit - 200) / 2))))
      .replace('{{RZ00}}', brokers[0]?.address as string)
      .replace('{{RZ02}}', brokers[1]?.address as string);
    writeFileSync(join(dir, 'haproxy.cfg'), cfg);
    haproxy = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
    await sleep(500);
  }
  const cleanup = (): void => {
    gw.stop();
    haproxy?.kill('SIGKILL');
    for (const b of brokers) void b.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const targets: { name: string; port: number }[] = [
      { name: 'mosquitto direct', port: brokers[0]?.port as number },
      { name: 'Zonegate', port: gw.port },
    ];
    if (haproxy !== null) targets.push({ name: 'HAProxy (client-id routing)', port: haproxyPort });
    const rows: (string | number)[][] = [];
    let memPlain = 0;
    let heapPlain = 0;
    let memTls = 0;
    let tlsRate = 0;
    for (const t of targets) {
      console.log(`measuring ${t.name} ...`);
      const isGw = t.name === 'Zonegate';
      const m0 = isGw ? await gw.ask('mem') : null;
      const r = await connectMany(t.port, conns, `c-${t.name.slice(0, 3)}`);
      if (m0 !== null) {
        await sleep(300);
        const m1 = await gw.ask('mem');
        memPlain = ((m1.rss as number) - (m0.rss as number)) / r.clients.length;
        heapPlain = ((m1.heapUsed as number) - (m0.heapUsed as number)) / r.clients.length;
      }
      await closeAll(r.clients);
      rows.push([t.name, r.perSec, r.failed, 0, 0]);
    }
    // Throughput: three rounds, targets interleaved, median of each (a shared machine is noisy).
    const q0s = targets.map((): number[] => []);
    const q1s = targets.map((): number[] => []);
    for (let round = 0; round < 3; round++) {
      for (const [k, t] of targets.entries()) {
        const tag = `${t.name.slice(0, 3)}${round}`;
        q0s[k]?.push(await throughput(t.port, 0, messages, tag));
        q1s[k]?.push(await throughput(t.port, 1, Math.floor(messages / 2), tag));
      }
    }
    targets.forEach((_, k) => {
      const row = rows[k] as (string | number)[];
      row[3] = median(q0s[k] as number[]);
      row[4] = median(q1s[k] as number[]);
    });
    if (haproxy === null) rows.push(['HAProxy', 'not installed', '', '', '']);
    {
      // TLS: Zonegate only (mosquitto is plain here).
      await sleep(300);
      const m0 = (await gw.ask('mem')).rss as number;
      const r = await connectMany(gw.tlsPort, conns, 'tls', { rejectUnauthorized: false });
      tlsRate = r.perSec;
      await sleep(300);
      memTls = (((await gw.ask('mem')).rss as number) - m0) / r.clients.length;
      await closeAll(r.clients);
    }
    const mig = await migration(gw, brokers, Number(values.migrate));
    // Slow subscribers: brokers with mosquitto's default in-flight window (20 per session), so
    // a backlog queues at the old broker; a Zonegate process of its own, default config.
    const slowBrokers = [
      await startMosquitto({ extraConfig: ['max_connections -1', 'max_inflight_messages 20'] }),
      await startMosquitto({ extraConfig: ['max_connections -1', 'max_inflight_messages 20'] }),
    ];
    const gw2 = new GatewayProcess(
      writeMap('map-slow.json', slowBrokers[0] as Mosquitto, slowBrokers[1] as Mosquitto),
      dir,
      Number(values.mps),
    );
    let slow: SlowResult;
    try {
      await gw2.ready;
      slow = await slowMigration(
        gw2,
        slowBrokers,
        Number(values.slow),
        Number(values['slow-share']),
        Number(values['late-ms']),
        Number(values.backlog),
      );
    } finally {
      gw2.stop();
      await Promise.all(slowBrokers.map((b) => b.stop()));
    }
    const direct = rows[0] as (string | number)[];
    const ours = rows[1] as (string | number)[];
    console.log(
      `\nMQTT edge, ${conns} connections, ${messages} QoS 0 / ${messages / 2} QoS 1 messages of 64 bytes\n`,
    );
    console.log(table(['target', 'connects/s', 'failed', 'QoS 0 msgs/s', 'QoS 1 msgs/s'], rows));
    console.log(
      `\nZonegate / direct: QoS 0 ${((ours[3] as number) / (direct[3] as number)).toFixed(2)}x, ` +
        `QoS 1 ${((ours[4] as number) / (direct[4] as number)).toFixed(2)}x`,
    );
    console.log(
      `Zonegate memory per idle connection (process RSS delta / connections): plain ${(memPlain / 1024).toFixed(1)} KB ` +
        `(JS heap ${(heapPlain / 1024).toFixed(1)} KB) ` +
        `(${conns} conns), TLS ${(memTls / 1024).toFixed(1)} KB (${conns} conns, ${tlsRate.toFixed(0)} TLS connects/s)`,
    );
    console.log(
      `Migration: ${mig.n} subscribed clients moved rz00 -> rz02 in ${mig.seconds.toFixed(2)} s ` +
        `(${(mig.n / mig.seconds).toFixed(0)}/s, movesPerSecond ${values.mps}; ${mig.failed} failed); ` +
        `QoS 1 messages lost: ${mig.lost} of ${mig.messages} published to the moving clients`,
    );
    console.log(
      `\nMigration with slow subscribers (${slow.slow} of ${slow.n + slow.failed} acknowledging ${values['late-ms']} ms late, ` +
        `${values.backlog} messages each queued at rz00 at the flip, 10 more at rz02 after it):\n`,
    );
    console.log(
      table(
        [
          'clients',
          'failed',
          'move s',
          'drain s',
          'QoS 1 expected',
          'lost',
          'lost (slow)',
          'duplicated',
          'drained',
          'drains abandoned',
        ],
        [
          [
            slow.n,
            slow.failed,
            slow.moveSeconds.toFixed(2),
            slow.drainSeconds.toFixed(2),
            slow.expected,
            slow.lost,
            slow.lostSlow,
            slow.duplicated,
            slow.drained,
            slow.abandoned,
          ],
        ],
      ),
    );
  } finally {
    cleanup();
  }
}

await main();
