/**
 * The lab's city failover at a larger size: the example three-site five-center map (5 IDCs,
 * 15 zones, a gateway per IDC by default), hundreds of simulated users, and the drill plan
 * policies/drills/city-failover.yaml (city sz down, checks, back up). Prints what the users
 * felt: RTO, failed and wrong-zone requests, MQTT sessions moved, QoS 1 messages lost and
 * duplicated — the median over the rounds and every round.
 *
 * Gateways run from dist/ (`npm run build` first) with the default configuration plus the
 * lab's listeners. Env: BENCH_DRILL_ROUNDS (3), BENCH_DRILL_USERS (400 with cookies),
 * BENCH_DRILL_ANONYMOUS (100), BENCH_DRILL_MQTT (200), BENCH_DRILL_GATEWAYS_PER_IDC (1),
 * BENCH_DRILL_DELAY_MS (5, each cross-IDC hop, each way).
 *
 * Peers: nginx, HAProxy and Envoy have no drill runner (nothing that writes a routing change,
 * waits for the fleet, reads SLOs and rolls back); they are not given numbers here.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadDrillPlanFile } from '../src/drill/plan/index.js';
import { exampleMap, formatLabResult, runLab, type LabResult } from '../src/lab/index.js';
import { median, table } from './table.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const rounds = env('BENCH_DRILL_ROUNDS', 3);
if (!existsSync(`${root}dist/cli/main.js`)) {
  console.error('build first: npm run build (the gateways run from dist/)');
  process.exit(2);
}

const plan = await loadDrillPlanFile(`${root}policies/drills/city-failover.yaml`);
const results: LabResult[] = [];
for (let i = 0; i < rounds; i++) {
  console.log(`round ${i + 1} of ${rounds} ...`);
  const r = await runLab({
    map: await exampleMap(),
    plan,
    gatewaysPerIdc: env('BENCH_DRILL_GATEWAYS_PER_IDC', 1),
    httpUsers: env('BENCH_DRILL_USERS', 400),
    anonymousUsers: env('BENCH_DRILL_ANONYMOUS', 100),
    mqttUsers: env('BENCH_DRILL_MQTT', 200),
    thinkMs: 100,
    publishMs: 200,
    interIdcDelayMs: env('BENCH_DRILL_DELAY_MS', 5),
    warmupMs: 3000,
    settleMs: 3000,
    maxDrillMs: 10 * 60_000,
    zonegate: [`${root}bin/zonegate.js`],
    log: (l) => console.log(`  ${l}`),
  });
  for (const line of formatLabResult(r)) console.log(`  ${line}`);
  results.push(r);
}

const ms = (v: number | null): string => (v === null ? 'not recovered' : `${v} ms`);
const rows = results.map((r, i) => [
  `round ${i + 1}`,
  r.report.result,
  r.http.requests,
  String(r.http.failed),
  String(r.http.wrongZone),
  ms(r.rtoMs),
  r.writes.map((w) => ms(w.convergeMs)).join(' / '),
  `${r.mqtt.movedOk} (${r.mqtt.movedFailed} failed)`,
  r.mqtt.acked,
  String(r.mqtt.lost),
  String(r.mqtt.duplicated),
]);
const med = (f: (r: LabResult) => number): number => median(results.map(f));
const first = results[0];
console.log('');
console.log(
  `## City failover drill in the lab (bench/drill.ts): ${first?.gateways ?? 0} gateways, ${first?.zones ?? 0} zones, ` +
    `${first?.http.users ?? 0} HTTP users (${first?.http.anonymous ?? 0} anonymous), ${first?.mqtt.clients ?? 0} MQTT QoS 1 clients`,
);
console.log('');
console.log(
  table(
    [
      'run',
      'drill',
      'HTTP requests',
      'failed',
      'wrong zone',
      'RTO',
      'convergence (down / up)',
      'MQTT moved',
      'QoS 1 acked',
      'lost',
      'duplicated',
    ],
    [
      ...rows,
      [
        'median',
        '',
        med((r) => r.http.requests),
        String(med((r) => r.http.failed)),
        String(med((r) => r.http.wrongZone)),
        results.some((r) => r.rtoMs === null) ? 'not recovered' : `${med((r) => r.rtoMs ?? 0)} ms`,
        '',
        String(med((r) => r.mqtt.movedOk)),
        med((r) => r.mqtt.acked),
        String(med((r) => r.mqtt.lost)),
        String(med((r) => r.mqtt.duplicated)),
      ],
    ],
  ),
);
console.log('');
console.log(
  'RTO: from the map write until the last user hit by it was served by a right zone again (0: nobody noticed). ' +
    'nginx, HAProxy and Envoy have no drill runner to compare with: not measured, no numbers given.',
);
