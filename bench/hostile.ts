/**
 * Slowloris-class soak: normal clients beside N hostile connections of one kind at a time,
 * against Zonegate (default config apart from ports, certificates and the zone map, plus
 * `limits.clientIp.exempt: [127.0.0.1/32]` so the normal load itself is not rate limited while
 * attackers come from 127.0.0.2) and nginx configured the same where nginx can be.
 *
 * Attacks (each runs alone, then stops):
 *   silent-tls     N TCP connections to the https port that never send a byte (reconnecting when closed)
 *   slow-headers   N HTTP/1.1 requests sending one header byte every 2 s
 *   slow-body      N POSTs announcing 10 MB and sending one byte every 2 s
 *   slow-reader    N GETs of a 16 MB answer that are never read
 *   h2-rst-flood   h2 sessions sending HEADERS then RST_STREAM in a loop (N streams per round)
 *   conn-flood     connections from one address (127.0.0.2), up to 4 N, held open
 *
 * Normal clients: C loops, each request on a fresh connection (so accept- and handshake-level
 * starvation shows), alternating http and https, uid 4242; a request that takes over 5 s
 * counts as an error. Printed: p50 / p99 latency and error rate per target and attack.
 *
 *   npx tsx bench/hostile.ts [--phase-seconds 4] [--hostile 200] [--clients 8] [--only silent-tls,conn-flood]
 *                            [--no-nginx] [--max-seconds 180]
 *
 * Each phase runs against a freshly started server, so what one attack leaves behind (a hung
 * upstream pool) does not leak into the next row. Bounded: 7 phases x (start + 2 s ramp +
 * phase) per target; phases that would end after --max-seconds are skipped (and say so).
 * Zonegate runs from dist/ when built (npm run build), else from source. Every server is started in its own process group and killed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as h2connect, constants as h2c, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { waitForPort } from '../src/lab/processes.js';
import { freePort, has, writeServerCert } from './support.js';
import { table } from './table.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..');
const ATTACKS = [
  'silent-tls',
  'slow-headers',
  'slow-body',
  'slow-reader',
  'h2-rst-flood',
  'conn-flood',
] as const;
type Attack = (typeof ATTACKS)[number];
const BIG_CHUNK = Buffer.alloc(64 * 1024, 'x');
/** 16 MB: enough to fill every buffer between a non-reading client and the upstream. */
const BIG_CHUNKS = 256;

/* ------------------------------------------------------------------ child role: upstream */

function roleUpstream(port: number): void {
  createServer({ keepAliveTimeout: 120_000 }, (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/big') === true) {
      // 16 MB, written as fast as the reader takes it.
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(BIG_CHUNKS * BIG_CHUNK.length),
      });
      let sent = 0;
      const pump = (): void => {
        while (sent < BIG_CHUNKS) {
          sent++;
          if (!res.write(BIG_CHUNK)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
      return;
    }
    req.resume();
    req.on('end', () => {
      const body = '{"ok":true,"note":"a fixed answer of about one hundred bytes for the soak"}\n';
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      });
      res.end(body);
    });
  }).listen(port, '127.0.0.1', () => console.log('ready'));
}

/* ------------------------------------------------------------------ servers */

const children: ChildProcess[] = [];

async function launch(cmd: string, args: string[], port: number, log: string): Promise<ChildProcess> {
  const c = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  children.push(c);
  let out = '';
  c.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  c.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  try {
    await waitForPort({ name: cmd, child: c, output: () => out }, port, 30_000);
  } catch {
    writeFileSync(log, out);
    throw new Error(`${cmd} did not come up on ${port} (log: ${log})`);
  }
  return c;
}

/** SIGKILL a server's process group and wait for it to go (its ports are reused next phase). */
async function stop(c: ChildProcess): Promise<void> {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  try {
    process.kill(-c.pid, 'SIGKILL');
  } catch {
    return;
  }
  await gone;
}

function killAll(): void {
  for (const c of children) {
    if (c.pid === undefined) continue;
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }
}

interface Target {
  readonly name: string;
  readonly httpPort: number;
  readonly httpsPort: number;
}

/* ------------------------------------------------------------------ normal clients */

interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
}

function oneRequest(t: Target, secure: boolean): Promise<number | null> {
  const started = performance.now();
  return new Promise((resolve) => {
    const opts = {
      host: '127.0.0.1',
      port: secure ? t.httpsPort : t.httpPort,
      path: '/api/x',
      headers: { 'x-ldc-uid': '4242', connection: 'close' },
      agent: false as const,
      timeout: 5000,
      ...(secure ? { rejectUnauthorized: false, servername: 'localhost' } : {}),
    };
    const req = (secure ? httpsRequest : httpRequest)(opts, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - started : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(null));
    req.end();
  });
}

async function normalLoad(t: Target, clients: number, seconds: number): Promise<LoadResult> {
  const end = Date.now() + seconds * 1000;
  const lat: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      let n = i;
      while (Date.now() < end) {
        const ms = await oneRequest(t, n++ % 2 === 1);
        if (ms === null) errors++;
        else lat.push(ms);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const pct = (p: number): number =>
    lat.length === 0 ? NaN : lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!;
  return { requests: lat.length + errors, errors, p50: pct(0.5), p99: pct(0.99) };
}

/* ------------------------------------------------------------------ attacks */

interface Running {
  stop(): void;
}

/** Keep `n` sockets of a kind open: each one closed by the server is replaced (as an attacker would). */
function holdSockets(n: number, open: () => Socket, onOpen: (s: Socket) => void): Running {
  let stopped = false;
  const live = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const spawnOne = (): void => {
    if (stopped) return;
    const s = open();
    live.add(s);
    s.on('error', () => {});
    s.once('connect', () => onOpen(s));
    s.once('close', () => {
      live.delete(s);
      // Reconnect after a beat, not in a hot loop.
      const timer = setTimeout(() => {
        timers.delete(timer);
        spawnOne();
      }, 200);
      timers.add(timer);
    });
  };
  for (let i = 0; i < n; i++) spawnOne();
  return {
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      for (const s of live) s.destroy();
    },
  };
}

function trickle(s: Socket, bytes: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (s.destroyed) return clearInterval(timer);
    s.write(bytes[i % bytes.length]!);
    i++;
  }, everyMs);
  s.once('close', () => clearInterval(timer));
}

function startAttack(kind: Attack, t: Target, n: number): Running {
  const tcp = (port: number, localAddress = '127.0.0.2'): Socket =>
    netConnect({ port, host: '127.0.0.1', localAddress });
  switch (kind) {
    case 'silent-tls':
      return holdSockets(
        n,
        () => tcp(t.httpsPort),
        () => {},
      );
    case 'slow-headers':
      return holdSockets(
        n,
        () => tcp(t.httpPort),
        (s) => {
          s.write('GET /api/x HTTP/1.1\r\nHost: x\r\nx-ldc-uid: 4242\r\n');
          trickle(s, 'x-a: b\r\n', 2000);
        },
      );
    case 'slow-body':
      return holdSockets(
        n,
        () => tcp(t.httpPort),
        (s) => {
          s.write(
            'POST /api/upload HTTP/1.1\r\nHost: x\r\nx-ldc-uid: 4242\r\nContent-Length: 10000000\r\n\r\n',
          );
          trickle(s, 'x', 2000);
        },
      );
    case 'slow-reader':
      return holdSockets(
        n,
        () => tcp(t.httpPort),
        (s) => {
          s.write('GET /big HTTP/1.1\r\nHost: x\r\nx-ldc-uid: 4242\r\n\r\n');
          // Read the head, then stop reading: the kernel buffers fill and the server must cope.
          s.once('data', () => s.pause());
        },
      );
    case 'h2-rst-flood': {
      let stopped = false;
      const sessions: ClientHttp2Session[] = [];
      const round = (session: ClientHttp2Session): void => {
        if (stopped || session.destroyed) return;
        for (let i = 0; i < n; i++) {
          const req = session.request({ ':path': '/api/x', 'x-ldc-uid': '4242' }, { endStream: true });
          req.on('error', () => {});
          req.close(h2c.NGHTTP2_CANCEL);
        }
        setTimeout(() => round(session), 50);
      };
      const open = (): void => {
        if (stopped) return;
        const session = h2connect(`https://127.0.0.1:${t.httpsPort}`, {
          rejectUnauthorized: false,
          localAddress: '127.0.0.2',
        } as never);
        sessions.push(session);
        session.on('error', () => {});
        session.once('connect', () => round(session));
        session.once('close', () => setTimeout(open, 200));
      };
      for (let i = 0; i < 4; i++) open();
      return {
        stop() {
          stopped = true;
          for (const s of sessions) s.destroy();
        },
      };
    }
    case 'conn-flood':
      return holdSockets(
        4 * n,
        () => tcp(t.httpPort),
        () => {},
      );
  }
}

/* ------------------------------------------------------------------ configs */

function zonegateConfig(
  dir: string,
  httpPort: number,
  httpsPort: number,
  upPort: number,
  certs: { cert: string; key: string },
): string {
  const doc = parseYaml(
    readFileSync(join(ROOT, 'policies/examples/three-site-five-center.yaml'), 'utf8'),
  ) as {
    idcs: Record<string, { gateways?: string[] }>;
    zones: Record<string, { upstreams?: { http?: { blue?: string[]; green?: string[] } } }>;
  };
  for (const idc of Object.values(doc.idcs)) idc.gateways = ['192.0.2.1:8080'];
  for (const z of Object.values(doc.zones)) {
    if (z.upstreams?.http !== undefined)
      z.upstreams.http = { blue: [`127.0.0.1:${upPort}`], green: [`127.0.0.1:${upPort}`] };
  }
  writeFileSync(join(dir, 'map.json'), JSON.stringify(doc));
  const cfg = {
    idc: 'hz-1',
    listeners: [
      { name: 'web', protocol: 'http', host: '127.0.0.1', port: httpPort },
      { name: 'tls', protocol: 'https', host: '127.0.0.1', port: httpsPort, tls: { ...certs, watch: false } },
    ],
    zonemap: { file: join(dir, 'map.json') },
    admin: { enabled: false },
    logging: { level: 'warn' },
    // The normal load comes from 127.0.0.1, the attackers from 127.0.0.2.
    limits: { clientIp: { exempt: ['127.0.0.1/32'] } },
  };
  const file = join(dir, 'zonegate.json');
  writeFileSync(file, JSON.stringify(cfg));
  return file;
}

/** nginx with Zonegate's defaults where nginx has the same knob. */
function nginxConfig(
  dir: string,
  httpPort: number,
  httpsPort: number,
  upPort: number,
  certs: { cert: string; key: string },
): string {
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log crit;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # Zonegate defaults: headersTimeoutMs 10000, tlsHandshakeTimeoutMs 10000, idle 60 s,
  # 512 connections and 200 req/s (burst 400) per client address, 10 MB bodies, no CBC suites.
  client_header_timeout 10s;
  client_body_timeout 60s;
  send_timeout 60s;
  keepalive_timeout 60s;
  client_max_body_size 10m;
  geo $limited { default 1; 127.0.0.1 0; }
  map $limited $limit_key { 0 ""; 1 $binary_remote_addr; }
  limit_conn_zone $limit_key zone=perclient:10m;
  limit_req_zone $limit_key zone=perclientrate:10m rate=200r/s;
  upstream app { server 127.0.0.1:${upPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${httpPort};
    # nginx 1.22 (Debian 12) spells h2 on the listen line.
    listen 127.0.0.1:${httpsPort} ssl http2;
    ssl_certificate ${certs.cert};
    ssl_certificate_key ${certs.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    limit_conn perclient 512;
    limit_req zone=perclientrate burst=400 nodelay;
    limit_req_status 429;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

/* ------------------------------------------------------------------ main */

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      port: { type: 'string' },
      'phase-seconds': { type: 'string', default: '4' },
      hostile: { type: 'string', default: '200' },
      clients: { type: 'string', default: '8' },
      only: { type: 'string' },
      'max-seconds': { type: 'string', default: '180' },
      'no-nginx': { type: 'boolean', default: false },
    },
  });
  if (values.role === 'upstream') return roleUpstream(Number(values.port));
  const phase = Number(values['phase-seconds']);
  const deadline = Date.now() + Number(values['max-seconds']) * 1000;
  const hostile = Number(values.hostile);
  const clients = Number(values.clients);
  const attacks = values.only === undefined ? [...ATTACKS] : (values.only.split(',') as Attack[]);
  for (const a of attacks)
    if (!ATTACKS.includes(a)) throw new Error(`unknown attack ${a}; one of ${ATTACKS.join(', ')}`);

  const dir = mkdtempSync(join(tmpdir(), 'zg-hostile-'));
  const certs = await writeServerCert(dir, 'Hostile Bench CA');

  const upPort = await freePort();
  await launch(
    process.execPath,
    ['--import', 'tsx', join(HERE, 'hostile.ts'), '--role', 'upstream', '--port', String(upPort)],
    upPort,
    join(dir, 'upstream.log'),
  );

  // start() resolves with the server process: each phase gets a fresh one, so damage an attack
  // leaves behind (a hung upstream pool) shows in its own row and not in the next attack's.
  const targets: { target: Target; start: () => Promise<ChildProcess> }[] = [];
  const zg: Target = { name: 'Zonegate', httpPort: await freePort(), httpsPort: await freePort() };
  const zgConfig = zonegateConfig(dir, zg.httpPort, zg.httpsPort, upPort, certs);
  targets.push({
    target: zg,
    start: () =>
      launch(
        process.execPath,
        // The installed entry point (compiled dist/) when built: it starts in a fraction of tsx's time.
        existsSync(join(ROOT, 'dist/cli/run.js'))
          ? [join(ROOT, 'bin/zonegate.js'), 'start', '-c', zgConfig]
          : ['--import', 'tsx', join(ROOT, 'src/cli/run.ts'), 'start', '-c', zgConfig],
        zg.httpsPort,
        join(dir, 'zonegate.log'),
      ),
  });
  if (!values['no-nginx'] && has('nginx')) {
    const ng: Target = { name: 'nginx', httpPort: await freePort(), httpsPort: await freePort() };
    const conf = nginxConfig(dir, ng.httpPort, ng.httpsPort, upPort, certs);
    targets.push({
      target: ng,
      start: () =>
        launch(
          'nginx',
          ['-e', join(dir, 'nginx-error.log'), '-c', conf, '-p', dir],
          ng.httpsPort,
          join(dir, 'nginx.log'),
        ),
    });
  }

  const rows: string[][] = [];
  for (const { target, start } of targets) {
    let proc: ChildProcess;
    try {
      proc = await start();
    } catch (err) {
      console.error(`${target.name} skipped: ${(err as Error).message}`);
      continue;
    }
    await normalLoad(target, 2, 1); // warm-up
    const base = await normalLoad(target, clients, phase);
    const fmt = (r: LoadResult): string[] => [
      r.requests.toString(),
      `${((100 * r.errors) / Math.max(1, r.requests)).toFixed(1)}%`,
      r.p50.toFixed(1),
      r.p99.toFixed(1),
    ];
    rows.push([target.name, 'none', ...fmt(base), '']);
    for (const kind of attacks) {
      if (Date.now() + (phase + 8) * 1000 > deadline) {
        rows.push([target.name, kind, 'skipped', '', '', '', '(--max-seconds)']);
        continue;
      }
      const attack = startAttack(kind, target, hostile);
      await sleep(2000); // let the attack build up
      const r = await normalLoad(target, clients, phase);
      attack.stop();
      rows.push([target.name, kind, ...fmt(r), `${(r.p99 / base.p99).toFixed(1)}x`]);
      await stop(proc);
      proc = await start();
      await normalLoad(target, 2, 1);
      console.error(`${target.name} ${kind}: ${rows[rows.length - 1]!.join(' ')}`);
    }
  }
  killAll();

  console.log(
    `\nnormal clients: ${clients} loops, fresh connection per request (http/https alternating); ${hostile} hostile connections per attack; ${phase} s per phase`,
  );
  console.log(table(['target', 'attack', 'requests', 'errors', 'p50 ms', 'p99 ms', 'p99 vs none'], rows));
}

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
main().catch((err: unknown) => {
  killAll();
  console.error(err);
  process.exit(1);
});
