/**
 * The gateway-less variant of bench/propagation.ts (`--followers-only`): N processes each
 * running bench/_propagation-follower.ts (RedisZoneMapSource + ZoneMapHolder + router), so
 * the store's own propagation can be measured without the HTTP stage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RedisZoneMapStore, writeZoneMap } from '../src/zonemap/stores/index.js';
import type { ZoneMapDoc } from '../src/zonemap/index.js';
import { exampleDoc } from '../test/helpers/maps.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';
import { table } from './table.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const now = (): number => performance.timeOrigin + performance.now();

interface Follower {
  readonly child: ChildProcess;
  /** version → time it routed by it */
  readonly seen: Map<number, number>;
  waiters: (() => void)[];
}

function startFollower(url: string, i: number): Promise<Follower> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      `${ROOT}bench/_propagation-follower.ts`,
      '--redis',
      url,
      '--id',
      `bench-follower-${i}`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const f: Follower = { child, seen: new Map(), waiters: [] };
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`follower ${i} exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; version: number; t?: number };
      if (msg.ready === true) resolve(f);
      else if (msg.t !== undefined) {
        f.seen.set(msg.version, msg.t);
        const w = f.waiters;
        f.waiters = [];
        for (const fn of w) fn();
      }
    });
  });
}

function waitSeen(fs: readonly Follower[], version: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (fs.every((f) => f.seen.has(version))) return resolve();
      if (Date.now() > deadline) return reject(new Error(`version ${version} not seen by every follower`));
      for (const f of fs) if (!f.seen.has(version)) f.waiters.push(check);
      setTimeout(check, 50).unref();
    };
    check();
  });
}

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function row(name: string, xs: readonly number[]): (string | number)[] {
  const s = [...xs].sort((a, b) => a - b);
  return [name, String(s.length), pct(s, 50), pct(s, 99), s[s.length - 1] ?? NaN];
}

function flipped(version: number, down: boolean): ZoneMapDoc {
  const d = exampleDoc();
  d.version = version;
  d.zones['rz03']!.status = down ? 'down' : 'up';
  return d;
}

/** Runs the CLI (`zone down|up rz03`); `written` resolves when it prints "written:" (its write returned), `exited` at exit. */
export function cliFlip(url: string, down: boolean): { written: Promise<number>; exited: Promise<void> } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      `${ROOT}src/cli/run.ts`,
      'zone',
      down ? 'down' : 'up',
      'rz03',
      '--redis',
      url,
      '--reason',
      'bench',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cli exited ${code}`)))),
  );
  const written = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('written:')) resolve(now());
    });
    exited.then(() => reject(new Error('cli exited without writing')), reject);
  });
  return { written, exited };
}

export async function runFollowersBench(o: {
  followers: number;
  flips: number;
  cliFlips: number;
}): Promise<void> {
  let redis: RedisServer | undefined;
  const followers: Follower[] = [];
  try {
    redis = await startRedis();
    const store = await RedisZoneMapStore.open({ url: redis.url }, 'bench');
    const meta = { who: 'bench@local', reason: 'propagation bench', action: 'flip rz03', summary: 'flip' };
    await writeZoneMap(store, flipped(1, false), null, meta);
    for (let i = 0; i < o.followers; i++) followers.push(await startFollower(redis.url, i));
    const fromReturn: number[] = [];
    let version = 1;
    for (let i = 0; i < o.flips; i++) {
      await writeZoneMap(store, flipped(version + 1, i % 2 === 0), version, meta);
      const t1 = now();
      version++;
      await waitSeen(followers, version);
      for (const f of followers) fromReturn.push((f.seen.get(version) ?? NaN) - t1);
    }
    await store.close();
    const viaCli: number[] = [];
    for (let i = 0; i < o.cliFlips; i++) {
      const run = cliFlip(redis.url, version % 2 === 1);
      const written = await run.written;
      await run.exited;
      version++;
      await waitSeen(followers, version);
      for (const f of followers) viaCli.push((f.seen.get(version) ?? NaN) - written);
    }
    console.log(
      `propagation (followers only): ${o.followers} RedisZoneMapSource processes, ${o.flips} flips`,
    );
    console.log('');
    const rows = [row('write returned -> follower routes by the new version (ms)', fromReturn)];
    if (o.cliFlips > 0) rows.push(row('CLI printed "written" -> follower routes by it (ms)', viaCli));
    console.log(table(['measure', 'n', 'p50', 'p99', 'max'], rows));
    console.log('');
    console.log(
      'Negative values: Redis publishes inside the write script, so a follower can switch before the writer reads the reply.',
    );
  } finally {
    for (const f of followers) f.child.kill('SIGTERM');
    await Promise.all(
      followers.map((f) =>
        f.child.exitCode === null ? new Promise((r) => f.child.once('exit', r)) : Promise.resolve(),
      ),
    );
    await redis?.stop();
  }
}
