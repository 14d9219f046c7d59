/**
 * A small Redis Sentinel deployment for failover tests: one primary, one replica and three
 * sentinels (quorum 2), all real processes on ephemeral ports, with short timeouts so a
 * failover completes in a few seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, track } from './child-processes.js';
import { redisCommand, startRedis, type RedisServer } from './redis.js';
import { waitFor } from './wait.js';

export const SENTINEL_MASTER_NAME = 'zgmaster';

export interface SentinelSetup {
  readonly primary: RedisServer;
  readonly replica: RedisServer;
  /** "127.0.0.1:port" of each sentinel. */
  readonly sentinels: readonly string[];
  /** Port of the primary as the sentinels currently report it. */
  currentPrimaryPort(): Promise<number | null>;
  stop(): Promise<void>;
}

export async function startSentinelSetup(): Promise<SentinelSetup> {
  const primary = await startRedis();
  const children: ChildProcess[] = [];
  let replica: RedisServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'zg-sentinel-'));
  const stopAll = async (): Promise<void> => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await new Promise((r) => c.once('exit', r));
      }
    }
    await replica?.stop();
    await primary.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    const r = replica;
    await waitFor('replica to sync', () => linkUp(r.port));
    const sentinels: string[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its config file, so each one needs its own writable copy.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'protected-mode no',
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      const c = spawn('/usr/bin/redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
      children.push(c);
      track(c);
      await waitFor(`sentinel on ${port}`, async () => (await redisCommand(port, 'PING')) === '+PONG');
      sentinels.push(`127.0.0.1:${port}`);
    }
    // Sentinels discover each other through the primary's hello channel; wait until they do,
    // otherwise a failover cannot reach its quorum.
    const firstSentinelPort = Number(sentinels[0]?.split(':')[1]);
    await waitFor(
      'sentinels to know each other',
      async () => {
        const line = await sentinelField(firstSentinelPort, 'num-other-sentinels');
        return line === '2';
      },
      15_000,
      100,
    );
    const currentPrimaryPort = async (): Promise<number | null> => {
      for (const s of sentinels) {
        const port = Number(s.split(':')[1]);
        const reply = await rawReply(port, `SENTINEL get-master-addr-by-name ${SENTINEL_MASTER_NAME}`);
        const m = /\r\n\$\d+\r\n(\d+)\r\n$/.exec(reply ?? '');
        if (m?.[1] !== undefined) return Number(m[1]);
      }
      return null;
    };
    return { primary, replica: r, sentinels, currentPrimaryPort, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function linkUp(port: number): Promise<boolean> {
  const reply = await rawReply(port, 'INFO replication');
  return reply !== null && reply.includes('master_link_status:up');
}

async function sentinelField(port: number, field: string): Promise<string | null> {
  const reply = await rawReply(port, `SENTINEL master ${SENTINEL_MASTER_NAME}`);
  if (reply === null) return null;
  const lines = reply.split('\r\n').filter((l) => !l.startsWith('$') && !l.startsWith('*'));
  const i = lines.indexOf(field);
  return i >= 0 ? (lines[i + 1] ?? null) : null;
}

/** Whole reply of one inline command: read until one complete RESP value has arrived. */
async function rawReply(port: number, command: string): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v: string | null): void => {
      clearTimeout(hard);
      sock.destroy();
      resolve(v);
    };
    // A server that never answers: null, and the caller's waitFor polls again.
    const hard = setTimeout(() => done(null), 2000);
    sock.on('error', () => done(null));
    sock.on('close', () => done(null));
    sock.on('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (respEnd(buf, 0) === buf.length) done(buf);
    });
  });
}

/**
 * Where the RESP value starting at `at` ends, or -1 when `buf` does not hold all of it yet.
 * Enough of RESP2 for INFO / SENTINEL replies: simple strings, errors, integers, bulk strings
 * and nested arrays. Lengths are in bytes, hence the latin1 reading above.
 */
function respEnd(buf: string, at: number): number {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return -1;
  const type = buf[at];
  const n = Number(buf.slice(at + 1, eol));
  if (type === '+' || type === '-' || type === ':') return eol + 2;
  if (type === '$') {
    if (n < 0) return eol + 2;
    const end = eol + 2 + n + 2;
    return buf.length >= end ? end : -1;
  }
  if (type === '*') {
    let next = eol + 2;
    for (let i = 0; i < n; i++) {
      next = respEnd(buf, next);
      if (next < 0) return -1;
    }
    return next;
  }
  return -1;
}
