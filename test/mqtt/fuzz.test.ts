/**
 * Fuzz a live MQTT listener with 100,000 random mutations of valid packet sequences (seeded,
 * reproducible: FUZZ_SEED). Each case is one client connection. The gateway must not crash,
 * must close every connection whose first packet is not a CONNECT, must not keep memory, and
 * must hold no connection once the clients are gone.
 *
 * Clients end their side with a TCP RST (resetAndDestroy): 100,000 loopback connections in a
 * minute would otherwise leave the ephemeral ports in TIME_WAIT. FUZZ_CASES=N runs fewer or more.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { seededRandom } from '../helpers/maps.js';
import { startFixture, waitFor, type Fixture } from './fixture.js';

const CASES = Number(process.env.FUZZ_CASES ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const CONCURRENCY = 128;
/** A case ends when the server closes, or this long after the last byte from it. */
const IDLE_MS = 25;

function gen(p: Packet, v: 4 | 5): Buffer {
  return mqttPacket.generate(p, { protocolVersion: v });
}

/** Valid building blocks per protocol version. */
function blocks(v: 4 | 5, clientId: string): { connect: Buffer; tail: Buffer[] } {
  const connect = gen(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: v,
      clientId,
      clean: true,
      keepalive: 30,
      username: 'u',
      password: Buffer.from('p'),
      will: { topic: 'w/t', payload: Buffer.from('bye'), qos: 1, retain: false },
    },
    v,
  );
  const tail = [
    gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/+/c', qos: 1 }] }, v),
    gen({ cmd: 'publish', topic: 'a/b/c', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, v),
    gen(
      {
        cmd: 'publish',
        topic: 'a/b',
        payload: Buffer.alloc(40, 7),
        qos: 1,
        messageId: 7,
        retain: false,
        dup: false,
      },
      v,
    ),
    gen(
      {
        cmd: 'publish',
        topic: 'q/2',
        payload: Buffer.from('y'),
        qos: 2,
        messageId: 9,
        retain: true,
        dup: false,
      },
      v,
    ),
    gen({ cmd: 'pubrel', messageId: 9 }, v),
    gen({ cmd: 'puback', messageId: 3 }, v),
    gen({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a/+/c'] }, v),
    gen({ cmd: 'pingreq' }, v),
  ];
  return { connect, tail };
}

function mutate(buf: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(buf);
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) {
    const pos = Math.floor(rnd() * Math.max(1, b.length));
    switch (Math.floor(rnd() * 6)) {
      case 0: // flip a bit
        if (b.length > 0) b[pos] = (b[pos] as number) ^ (1 << Math.floor(rnd() * 8));
        break;
      case 1: // random byte
        if (b.length > 0) b[pos] = Math.floor(rnd() * 256);
        break;
      case 2: // truncate
        b = b.subarray(0, pos);
        break;
      case 3: {
        // insert random bytes
        const ins = Buffer.from(
          Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256)),
        );
        b = Buffer.concat([b.subarray(0, pos), ins, b.subarray(pos)]);
        break;
      }
      case 4: // duplicate a slice
        b = Buffer.concat([b, b.subarray(pos, pos + 1 + Math.floor(rnd() * 16))]);
        break;
      default: // huge or continuation-heavy remaining length
        if (b.length > 1) b[1] = 0x80 | Math.floor(rnd() * 128);
        break;
    }
  }
  return b;
}

interface Outcome {
  closedByServer: boolean;
  /** The connection could not be made (EAGAIN: accept queue full); run the case again. */
  retry: boolean;
}

function runCase(port: number, bytes: Buffer, idleMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    let connected = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      if (connected && !sock.destroyed) sock.resetAndDestroy();
      else sock.destroy();
      resolve({ closedByServer, retry: !connected && !closedByServer });
    };
    const arm = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => finish(false), idleMs);
    };
    sock.on('data', arm);
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // A refused or failed connect is the harness's trouble, not the gateway's answer.
      if (!connected) {
        if (timer !== null) clearTimeout(timer);
        done = true;
        sock.destroy();
        resolve({ closedByServer: false, retry: e.code !== undefined });
        return;
      }
      finish(true);
    });
    sock.on('connect', () => {
      connected = true;
      sock.write(bytes);
      arm();
    });
  });
}

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('mqtt listener fuzz', () => {
  let f: Fixture;

  before(async () => {
    f = await startFixture({
      zones: ['rz00'],
      config: { timeouts: { connectTimeoutMs: 2000, upstreamConnectTimeoutMs: 2000 } },
    });
  });
  after(async () => {
    await f.close();
  });

  it(`${CASES} mutated packet sequences: no crash, bad connections closed, bounded memory`, async () => {
    const rnd = seededRandom(SEED);
    const v4 = blocks(4, '100-fuzz');
    const v5 = blocks(5, '100-fuzz');
    const v4Dead = blocks(4, '110-fuzz'); // rz01: no broker, refused quickly
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let mustClose = 0;
    let closedWhenMust = 0;
    let next = 0;
    const t0 = Date.now();
    const worker = async (): Promise<void> => {
      while (next < CASES) {
        next++;
        const v = rnd() < 0.5 ? v4 : v5;
        let bytes: Buffer;
        if (rnd() < 0.8) {
          // Mutated CONNECT (mostly towards the broker-less zone, to spare the broker).
          const base = rnd() < 0.8 ? v4Dead : v;
          bytes = mutate(
            Buffer.concat([base.connect, base.tail[Math.floor(rnd() * base.tail.length)] as Buffer]),
            rnd,
          );
        } else {
          // Valid CONNECT to a live broker, then mutated packets in the relay.
          const picks = Array.from(
            { length: 1 + Math.floor(rnd() * 4) },
            () => v.tail[Math.floor(rnd() * v.tail.length)] as Buffer,
          );
          bytes = Buffer.concat([v.connect, mutate(Buffer.concat(picks), rnd)]);
        }
        const first = bytes[0];
        const notConnect = first === undefined ? false : first >> 4 !== 1;
        // Must-close cases get time to be closed even when the event loop is busy.
        let out = await runCase(f.port, bytes, notConnect ? 2000 : IDLE_MS);
        while (out.retry) {
          await new Promise((r) => setTimeout(r, 1));
          out = await runCase(f.port, bytes, notConnect ? 2000 : IDLE_MS);
        }
        if (notConnect) {
          mustClose++;
          if (out.closedByServer) closedWhenMust++;
          else if (process.env.FUZZ_DEBUG !== undefined)
            console.log('not closed', bytes.toString('hex'), f.server.connectionCount, Date.now() - t0);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const took = Date.now() - t0;
    await waitFor('every connection released', () => f.server.connectionCount === 0, 10_000);
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    const stats = f.server.stats.snapshot();
    console.log(
      `fuzz: ${CASES} cases in ${took} ms; heap growth ${(heapGrowth / 1048576).toFixed(1)} MB; ` +
        `malformed from clients ${String(stats.malformedFromClients)}; relayed ${String(stats.accepted)}; ` +
        `refused ${JSON.stringify(stats.refused)}`,
    );
    assert.ok(mustClose > 0);
    assert.equal(
      closedWhenMust,
      mustClose,
      'every connection not starting with CONNECT is closed by the gateway',
    );
    assert.ok((stats.malformedFromClients as number) > CASES / 10);
    assert.ok((stats.accepted as number) > 0, 'some cases got through to the broker');
    assert.ok(heapGrowth < 32 * 1048576, `heap grew by ${heapGrowth} bytes`);
  });
});
