/**
 * The cost of observation per request: `zonegate start` with the DEFAULT logging (access log on,
 * every request) and metrics on, under a bounded keep-alive load on loopback. Reports req/s,
 * the gateway's CPU time per request (from /proc) and heap bytes allocated per request, read from the gateway's own `--trace-gc` lines (the sum of
 * what each scavenge / mark-compact found allocated since the previous one), so the load
 * generator's allocations are not counted. Access lines go to a file (stderr redirected).
 *
 *   npx tsx bench/access-log.ts [--requests 40000] [--connections 32] [--rounds 3] [--sample 1] [--root DIR]
 *
 * `--root` runs another checkout's `src/cli/run.ts` (e.g. main) for a before/after in one run.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { openSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { parse } from 'yaml';
import { cpuSeconds, freePort } from './support.js';
import { median } from './table.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '40000' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    root: { type: 'string', default: resolve(import.meta.dirname, '..') },
    /** logging.accessSampleRate; 1 is the default config. */
    sample: { type: 'string', default: '1' },
  },
});
const REQUESTS = Number(values.requests);
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
const ROOT = resolve(values.root);

/** Heap MB allocated between collections, from `--trace-gc` lines: `Scavenge 5.2 (7.0) -> 4.3 (8.0) MB`. */
function allocatedMb(trace: string): number {
  let total = 0;
  let after: number | null = null;
  for (const m of trace.matchAll(
    /: (?:Scavenge|Mark-Compact|Minor Mark-Compact)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \(/g,
  )) {
    const before = Number(m[1]);
    if (after !== null && before > after) total += before - after;
    after = Number(m[2]);
  }
  return total;
}

interface Round {
  readonly rps: number;
  readonly bytesPerRequest: number;
  readonly cpuUsPerRequest: number;
}

async function round(dir: string, upstream: string): Promise<Round> {
  const port = await freePort();
  const admin = await freePort();
  const doc = parse(await readFile(join(ROOT, 'policies/examples/three-site-five-center.yaml'), 'utf8')) as {
    zones: Record<string, { upstreams?: unknown }>;
    idcs?: Record<string, { gateways?: string[] }>;
  };
  for (const z of Object.values(doc.zones)) z.upstreams = { http: { blue: [upstream], green: [upstream] } };
  for (const idc of Object.values(doc.idcs ?? {})) idc.gateways = ['192.0.2.1:8080'];
  await writeFile(join(dir, 'map.json'), JSON.stringify(doc));
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      idc: 'hz-1',
      listeners: [{ name: 'web', protocol: 'http', port, host: '127.0.0.1' }],
      zonemap: { file: join(dir, 'map.json') },
      upstream: { healthCheck: { enabled: false } },
      admin: { host: '127.0.0.1', port: admin },
      drain: { delayMs: 0, timeoutMs: 2000 },
      logging: { level: 'info', accessSampleRate: Number(values.sample) },
    }),
  );
  const logFile = join(dir, `gateway-${port}.log`);
  const gcFile = join(dir, `gc-${port}.log`);
  const child = spawn(
    process.execPath,
    ['--trace-gc', '--import', 'tsx', join(ROOT, 'src/cli/run.ts'), 'start', '-c', join(dir, 'config.json')],
    { cwd: ROOT, stdio: ['ignore', openSync(gcFile, 'w'), openSync(logFile, 'w')] },
  );
  try {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: 1 });
    const one = async (i: number): Promise<void> => {
      const r = await pool.request({
        path: `/bench/${i}`,
        method: 'GET',
        headers: { 'x-ldc-uid': String(10_000_000 + (i % 100)) },
      });
      await r.body.text();
    };
    // Wait for the gateway, then warm up (JIT, pools) before counting.
    for (let tries = 0; ; tries++) {
      try {
        await one(0);
        break;
      } catch (err) {
        if (tries > 200) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const run = async (n: number): Promise<number> => {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          while (next < n) await one(next++);
        }),
      );
      return performance.now() - t0;
    };
    await run(Math.min(5000, REQUESTS));
    const gcBefore = allocatedMb(await readFile(gcFile, 'utf8'));
    // CPU time from /proc as well as req/s: the machine is shared, req/s alone says little.
    const cpuBefore = cpuSeconds(child.pid as number);
    const ms = await run(REQUESTS);
    const cpuAfter = cpuSeconds(child.pid as number);
    const gcAfter = allocatedMb(await readFile(gcFile, 'utf8'));
    await pool.close();
    return {
      rps: (REQUESTS / ms) * 1000,
      bytesPerRequest: ((gcAfter - gcBefore) * 1024 * 1024) / REQUESTS,
      cpuUsPerRequest: ((cpuAfter - cpuBefore) * 1e6) / REQUESTS,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const up = createServer((_req, res) => res.end('x'.repeat(100)));
up.keepAliveTimeout = 60_000;
await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
const upstream = `127.0.0.1:${(up.address() as AddressInfo).port}`;
const dir = await mkdtemp(join(tmpdir(), 'zg-bench-access-'));
const results: Round[] = [];
for (let i = 0; i < ROUNDS; i++) results.push(await round(dir, upstream));
up.close();
console.log(`root: ${ROOT}`);
console.log(
  `requests/round: ${REQUESTS}, connections: ${CONNECTIONS}, rounds: ${ROUNDS}, accessSampleRate: ${values.sample}`,
);
const line = (r: Round): string =>
  `${r.rps.toFixed(0)} req/s, ${r.cpuUsPerRequest.toFixed(1)} µs CPU/request, ${r.bytesPerRequest.toFixed(0)} B/request`;
for (const r of results) console.log(`  ${line(r)}`);
console.log(
  `median: ${line({
    rps: median(results.map((r) => r.rps)),
    cpuUsPerRequest: median(results.map((r) => r.cpuUsPerRequest)),
    bytesPerRequest: median(results.map((r) => r.bytesPerRequest)),
  })}`,
);
