/**
 * How fast a zone map write reaches every gateway, and whether a flip under load fails any
 * request.
 *
 *   npx tsx bench/propagation.ts [--gateways 5] [--flips 200] [--cli 20] [--load-seconds 10] [--rate 400]
 *   npx tsx bench/propagation.ts --followers-only   (no gateway processes: RedisZoneMapSource followers)
 *
 * Propagation: 5 `zonegate start` processes follow one redis-server; zone rz03 goes down and
 * up F times. After each write returns, every gateway is probed (uid 35, shard 35 = rz03)
 * over keep-alive HTTP until its answer comes from the new zone's upstream; the time of that
 * answer minus the time the write returned is the propagation time (an upper bound: it
 * includes one probe's round trip and up to ~1 ms between probes). `--cli N` adds N flips made by the real CLI process,
 * timed from the moment it prints "written:".
 *
 * Load: autocannon sends a steady rate of requests as uid 35 through one gateway while rz03
 * flips every 250 ms; every request must succeed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RedisZoneMapStore, writeZoneMap } from '../src/zonemap/stores/index.js';
import type { ZoneMapDoc } from '../src/zonemap/index.js';
import {
  closeAgent,
  gatewayProcess,
  routeOf,
  startUpstreams,
  type GatewayProcess,
} from '../test/drills/fleet.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';
import { cliFlip, runFollowersBench } from './_propagation-followers.js';
import { table } from './table.js';

const { values } = parseArgs({
  options: {
    gateways: { type: 'string' },
    flips: { type: 'string' },
    cli: { type: 'string' },
    'load-seconds': { type: 'string' },
    rate: { type: 'string' },
    'followers-only': { type: 'boolean' },
  },
});
const GATEWAYS = Number(values.gateways ?? 5);
const FLIPS = Number(values.flips ?? 200);
const CLI_FLIPS = Number(values.cli ?? 20);
const LOAD_SECONDS = Number(values['load-seconds'] ?? 10);
const RATE = Number(values.rate ?? 400);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const IDCS = ['hz-1', 'hz-2', 'sh-1', 'sh-2', 'sz-1'];
const UID = '35';
const now = (): number => performance.timeOrigin + performance.now();

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export function summary(name: string, xs: readonly number[]): (string | number)[] {
  const s = [...xs].sort((a, b) => a - b);
  return [name, String(s.length), pct(s, 50), pct(s, 99), s[s.length - 1] ?? NaN];
}

/** Probes one gateway until uid 35 is answered by `zone`; resolves with the time of that answer. */
async function seenAt(g: GatewayProcess, zone: string, timeoutMs = 5000): Promise<number> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const r = await routeOf(g.port, UID);
    const t = now();
    if (r.zone === zone) return t;
    if (t > deadline) throw new Error(`${g.id} did not route uid ${UID} to ${zone} within ${timeoutMs} ms`);
    // Leave the two cores to the gateways between probes: five tight probe loops would slow
    // down the very thing they measure.
    await new Promise((r) => setTimeout(r, 1));
  }
}

interface AutocannonResult {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

function autocannon(url: string, seconds: number, rate: number): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        `${ROOT}node_modules/autocannon/autocannon.js`,
        '-j',
        '-c',
        '20',
        '-d',
        String(seconds),
        '-R',
        String(rate),
        '-H',
        `x-ldc-uid=${UID}`,
        url,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('exit', (code) => {
      try {
        resolve(JSON.parse(out) as AutocannonResult);
      } catch {
        reject(new Error(`autocannon exited ${code}: ${out.slice(0, 500)}`));
      }
    });
  });
}

async function main(): Promise<void> {
  if (values['followers-only'] === true) {
    await runFollowersBench({ followers: GATEWAYS, flips: FLIPS, cliFlips: CLI_FLIPS });
    return;
  }
  let redis: RedisServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'zg-bench-prop-'));
  const upstreams = await startUpstreams();
  const gateways: GatewayProcess[] = [];
  try {
    redis = await startRedis();
    const store = await RedisZoneMapStore.open({ url: redis.url }, 'bench');
    const meta = { who: 'bench@local', reason: 'propagation bench', action: 'flip rz03', summary: 'flip' };
    const docAt = (version: number, down: boolean): ZoneMapDoc =>
      upstreams.doc(version, (d) => (d.zones['rz03']!.status = down ? 'down' : 'up'));
    let version = 1;
    await writeZoneMap(store, docAt(version, false), null, meta);
    for (let i = 0; i < GATEWAYS; i++) {
      gateways.push(
        await gatewayProcess({ id: `bench-gw-${i}`, idc: IDCS[i % IDCS.length]!, redisUrl: redis.url, dir }),
      );
    }
    await Promise.all(gateways.map((g) => g.start()));

    const fromReturn: number[] = [];
    const writeMs: number[] = [];
    const switchedAt: number[] = [];
    for (let i = 0; i < FLIPS; i++) {
      const down = version % 2 === 1;
      const t0 = now();
      await writeZoneMap(store, docAt(version + 1, down), version, meta);
      const t1 = now();
      version++;
      writeMs.push(t1 - t0);
      const seen = await Promise.all(gateways.map((g) => seenAt(g, down ? 'rz01' : 'rz03')));
      for (const t of seen) fromReturn.push(t - t1);
      // The gateways' own account: each reports when it swapped to this version (ms clock).
      const reports = (await store.gateways()).filter((r) => r.version === version);
      for (const r of reports) switchedAt.push(Date.parse(r.appliedAt) - t1);
    }
    const viaCli: number[] = [];
    for (let i = 0; i < CLI_FLIPS; i++) {
      const down = version % 2 === 1;
      const run = cliFlip(redis.url, down);
      // Probe from the moment the CLI reports the write, not from its exit.
      const written = await run.written;
      version++;
      const seen = await Promise.all(gateways.map((g) => seenAt(g, down ? 'rz01' : 'rz03')));
      for (const t of seen) viaCli.push(t - written);
      await run.exited;
    }

    // Flip under load: steady traffic as uid 35 through one gateway while rz03 flips.
    let flipping = true;
    const flipper = (async () => {
      let flips = 0;
      while (flipping) {
        await new Promise((r) => setTimeout(r, 250));
        if (!flipping) break;
        await writeZoneMap(store, docAt(version + 1, version % 2 === 1), version, meta);
        version++;
        flips++;
      }
      return flips;
    })();
    const load = await autocannon(`http://127.0.0.1:${gateways[0]!.port}/load`, LOAD_SECONDS, RATE);
    flipping = false;
    const loadFlips = await flipper;
    await store.close();

    console.log(
      `propagation: ${GATEWAYS} gateway processes (zonegate start), ${FLIPS} flips by the writer API` +
        `${CLI_FLIPS > 0 ? ` + ${CLI_FLIPS} by the CLI` : ''}; node ${process.version}`,
    );
    console.log('');
    const rows = [
      summary('write returned -> gateway answers from the new zone (ms)', fromReturn),
      summary('write returned -> gateway swapped its map (its report, 1 ms clock) (ms)', switchedAt),
      summary('zone map write round trip (ms)', writeMs),
    ];
    if (CLI_FLIPS > 0)
      rows.push(summary('CLI printed "written" -> gateway answers from the new zone (ms)', viaCli));
    console.log(table(['measure', 'n', 'p50', 'p99', 'max'], rows));
    console.log('');
    console.log(
      `flip under load: autocannon -R ${RATE} -c 20 for ${LOAD_SECONDS} s through one gateway, ${loadFlips} flips of rz03`,
    );
    console.log('');
    console.log(
      table(
        ['requests', 'non-2xx', 'errors', 'timeouts', 'p50 (ms)', 'p99 (ms)', 'max (ms)'],
        [
          [
            String(load.requests.total),
            String(load.non2xx),
            String(load.errors),
            String(load.timeouts),
            load.latency.p50,
            load.latency.p99,
            load.latency.max,
          ],
        ],
      ),
    );
    if (load.non2xx + load.errors + load.timeouts > 0) process.exitCode = 1;
  } finally {
    await Promise.all(gateways.map((g) => g.stop()));
    closeAgent();
    await upstreams.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
