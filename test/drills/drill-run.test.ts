/**
 * `zonegate drill run` against a real Redis: a gateway following the map (the Redis source a
 * gateway runs, reporting its version and admin URL) and a metrics endpoint the test scripts
 * (healthy, or answering 5xx on purpose).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ZoneMapDoc } from '../../src/zonemap/index.js';
import {
  RedisZoneMapSource,
  RedisZoneMapStore,
  writeZoneMap,
  type GatewayReport,
} from '../../src/zonemap/stores/index.js';
import { runCli } from '../helpers/cli.js';
import { exampleDoc } from '../helpers/maps.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/** `zonegate ARGV` in this process. */
const zg = (...argv: string[]) => runCli(argv);

describe('drill run', () => {
  let redis: RedisServer;
  let metrics: http.Server;
  let metricsUrl: string;
  // The fleet's answers so far; every scrape adds some, and in 'failing' mode 5xx ones too.
  const counts = { ok: 0, err: 0 };
  let failing = false;
  const dir = mkdtempSync(join(tmpdir(), 'zg-drill-'));
  const sources: RedisZoneMapSource[] = [];
  let n = 0;

  before(async () => {
    redis = await startRedis();
    metrics = http.createServer((req, res) => {
      counts.ok += 100;
      if (failing) counts.err += 10;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        [
          '# TYPE zonegate_http_requests_total counter',
          `zonegate_http_requests_total{protocol="http",zone="rz01",colour="blue",reason="cookie",status_class="2xx",idc="hz-1"} ${counts.ok}`,
          `zonegate_http_requests_total{protocol="http",zone="rz01",colour="blue",reason="cookie",status_class="5xx",idc="hz-1"} ${counts.err}`,
          `zonegate_mqtt_migrations_total{mode="down",result="ok",idc="hz-1"} 3`,
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((r) => metrics.listen(0, '127.0.0.1', r));
    const a = metrics.address();
    metricsUrl = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
  });

  after(async () => {
    for (const s of sources) await s.close();
    metrics.closeAllConnections();
    await new Promise((r) => metrics.close(r));
    await redis.stop();
  });

  /** A fresh key prefix with the example map at version 1 and (unless told) one reporting gateway. */
  async function fleet(o: { gateway?: boolean } = {}) {
    const prefix = `drill${++n}`;
    const store = await RedisZoneMapStore.open({ url: redis.url, keyPrefix: prefix }, 'test');
    const start = exampleDoc() as ZoneMapDoc;
    await writeZoneMap(store, start, null, { who: 't', reason: '', action: 'seed', summary: '' });
    if (o.gateway !== false) {
      const src = new RedisZoneMapSource({
        redis: { url: redis.url, keyPrefix: prefix, reportIntervalMs: 200 },
        idc: 'hz-1',
        gatewayId: `gw-${prefix}`,
      });
      await src.start();
      // What a gateway does once its admin listener is bound: the drill reads metrics there.
      src.advertiseAdmin(metricsUrl);
      sources.push(src);
    }
    const plan = (name: string, body: string): string => {
      const file = join(dir, `${prefix}-${name}.yaml`);
      writeFileSync(file, `name: ${name}\n${body}`);
      return file;
    };
    const flags = ['--redis', redis.url, '--key-prefix', prefix];
    const version = async (): Promise<number> => Number((await store.readRaw()).version);
    const doc = async (): Promise<ZoneMapDoc> =>
      JSON.parse((await store.readRaw()).json ?? 'null') as ZoneMapDoc;
    return { prefix, store, start, plan, flags, version, doc };
  }

  it('runs every step kind; each write carries the drill id and plan in history; reports in three formats', async () => {
    failing = false;
    const f = await fleet();
    const file = f.plan(
      'every-kind',
      `steps:
  - { kind: zone, zone: rz03, status: drain, reason: 'drill: rz03 to rz01' }
  - { kind: converge, timeoutMs: 5000 }
  - { kind: idc, idc: sz-1, status: drain }
  - { kind: city, city: sz, status: down }
  - { kind: weight, zone: rz00, weight: 50 }
  - { kind: shards, shards: ['00-04'], to: rz05 }
  - { kind: release, zone: rz02, greenShards: ['20'], green: 5 }
  - { kind: wait, ms: 50 }
  - { kind: converge, timeoutMs: 5000 }
  - kind: check
    windowMs: 200
    slos:
      - { metric: error-ratio, max: 0.001 }
      - { metric: error-ratio, zone: rz01, max: 0.001 }
      - { metric: no-live-zone, max: 0 }
      - { metric: upstream-latency, quantile: 0.99, maxMs: 100 }
      - { metric: mqtt-moves-failed, max: 0 }
  - { kind: pause, message: 'look at the dashboards' }
report: { windowMs: 100 }
`,
    );
    const reports = join(dir, 'reports');
    const r = await zg('drill', 'run', file, ...f.flags, '--yes', '--report', reports, '--html');
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /\[1\/11\] zone drain rz03\n {6}ok: version 1 -> 2/);
    assert.match(
      r.stdout,
      /\[2\/11\] converge within 5000 ms\n {6}ok: \d+\.\ds .*1 gateway\(s\) on version 2/,
    );
    assert.match(r.stdout, /ok {2}error ratio ≤ 0\.10%: 0\.00% \(0 of \d+\)/);
    assert.match(r.stdout, /ok {2}upstream p99 ≤ 100 ms: no upstream requests/);
    assert.match(r.stdout, /confirmed by --yes/);
    assert.match(r.stdout, /drill passed/);
    assert.equal(await f.version(), 7);
    const d = await f.doc();
    assert.equal(d.zones['rz03']?.status, 'drain');
    assert.equal(d.idcs?.['sz-1']?.status, 'drain');
    assert.equal(d.cities['sz']?.status, 'down');
    assert.equal(d.zones['rz00']?.weight, 50);
    assert.deepEqual(d.zones['rz05']?.shards, ['00-04', '50-59']);
    assert.deepEqual(d.zones['rz02']?.release, { greenUids: [], greenShards: ['20'], green: 5 });

    const drill = /drill (every-kind-\S+):/.exec(r.stdout)?.[1] ?? '';
    assert.match(drill, /^every-kind-\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    const entries = await f.store.history(10);
    assert.deepEqual(
      entries.slice(0, 6).map((e) => [e.version, e.action, e.drill, e.plan]),
      [
        [7, 'release rz02 --green 5 --green-shards 20', drill, 'every-kind'],
        [6, 'shards move 00-04 --to rz05', drill, 'every-kind'],
        [5, 'zone weight rz00 50', drill, 'every-kind'],
        [4, 'city down sz', drill, 'every-kind'],
        [3, 'idc drain sz-1', drill, 'every-kind'],
        [2, 'zone drain rz03', drill, 'every-kind'],
      ],
    );
    assert.equal(entries[5]?.reason, 'drill: rz03 to rz01');
    assert.equal(entries[6]?.drill, undefined, 'the seed was not written by a drill');
    const hist = await zg('map', 'history', ...f.flags, '--limit', '2');
    assert.equal(hist.code, 0, hist.stderr);
    assert.match(
      hist.stdout,
      new RegExp(`v7 .*release rz02[^\\n]*\\n.*\\n {6}drill ${drill} \\(plan every-kind\\)`),
    );

    const files = readdirSync(reports).sort();
    assert.deepEqual(files, [`${drill}.html`, `${drill}.json`, `${drill}.md`]);
    const json = JSON.parse(readFileSync(join(reports, `${drill}.json`), 'utf8')) as {
      result: string;
      steps: { kind: string; result: string; versionTo?: number; convergeMs?: number }[];
      versionBefore: number;
      versionAfter: number;
    };
    assert.equal(json.result, 'passed');
    assert.deepEqual(
      json.steps.map((s) => s.kind),
      [
        'zone',
        'converge',
        'idc',
        'city',
        'weight',
        'shards',
        'release',
        'wait',
        'converge',
        'check',
        'pause',
      ],
    );
    assert.equal(typeof json.steps[1]?.convergeMs, 'number');
    assert.deepEqual([json.versionBefore, json.versionAfter], [1, 7]);
    const md = readFileSync(join(reports, `${drill}.md`), 'utf8');
    assert.match(md, /^# Drill every-kind-\S+: PASSED/);
    assert.match(md, /\| 1 \| zone drain rz03 \| ok \| [\d.]+s \| 1 → 2 \|/);
    assert.match(md, /\| error ratio \| 0\.000% \| 0\.000% \| 0\.000% \|/);
    const html = readFileSync(join(reports, `${drill}.html`), 'utf8');
    assert.match(html, /<svg [^>]*viewBox/);
    assert.equal((html.match(/<rect /g) ?? []).length, 11, 'one bar per step');
    await f.store.close();
  });

  it('--dry-run shows each change measured against the step before, and writes nothing', async () => {
    const f = await fleet();
    const file = f.plan(
      'dry',
      `steps:
  - { kind: zone, zone: rz03, status: down }
  - { kind: converge, timeoutMs: 1000 }
  - { kind: zone, zone: rz01, status: down }
`,
    );
    const before = (await f.store.history(100)).length;
    const r = await zg('drill', 'run', file, ...f.flags, '--dry-run');
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /dry run: nothing is written/);
    assert.match(r.stdout, /30-39 {2}rz03 -> rz01 {2}\[10\]/);
    // rz01's first standby is rz03, which step 1 took down: its users go to rz05.
    assert.match(r.stdout, /10-19 {2}rz01 -> rz05 {2}\[10\]/);
    assert.match(r.stdout, /skipped .*dry run/);
    assert.equal(await f.version(), 1);
    assert.equal((await f.store.history(100)).length, before);
    await f.store.close();
  });

  it('a check that fails rolls back to the version before the plan in one write, with the drill id', async () => {
    const f = await fleet();
    const file = f.plan(
      'fails-check',
      `steps:
  - { kind: city, city: sz, status: down }
  - { kind: converge, timeoutMs: 5000 }
  - { kind: zone, zone: rz03, status: drain }
  - { kind: check, windowMs: 200, slos: [{ metric: error-ratio, max: 0.001 }, { metric: mqtt-moves-failed, max: 0 }] }
  - { kind: zone, zone: rz04, status: down }
report: { windowMs: 0 }
`,
    );
    failing = true;
    try {
      const r = await zg('drill', 'run', file, ...f.flags, '--json');
      assert.equal(r.code, 1, r.stderr);
      const events = r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const check = events.find((e) => e['type'] === 'step-end' && e['kind'] === 'check');
      assert.equal(check?.['result'], 'failed');
      assert.equal((check?.['error'] as { code: string }).code, 'ZG_ERR_DRILL_CHECK_FAILED');
      assert.match(
        (check?.['error'] as { message: string }).message,
        /error ratio ≤ 0\.10%: 9\.09% \(10 of 110\)/,
      );
      assert.equal(
        events.some((e) => e['type'] === 'step-start' && e['index'] === 4),
        false,
        'no step after the failure',
      );
      const rb = events.find((e) => e['type'] === 'rollback');
      assert.equal(rb?.['done'], true);
      assert.deepEqual([rb?.['to'], rb?.['from'], rb?.['version'], rb?.['converged']], [1, 3, 4, true]);
      assert.deepEqual(events.at(-1)?.['result'], 'failed');
    } finally {
      failing = false;
    }
    assert.equal(await f.version(), 4);
    assert.deepEqual({ ...(await f.doc()), version: 1 }, f.start);
    const [last] = await f.store.history(1);
    assert.equal(last?.action, 'rollback to 1');
    assert.equal(last?.previous, 3);
    assert.equal(last?.plan, 'fails-check');
    assert.match(last?.drill ?? '', /^fails-check-/);
    assert.match(last?.reason ?? '', /stopped: SLO broken/);
    await f.store.close();
  });

  it('--no-rollback leaves the map as the failed plan left it', async () => {
    const f = await fleet();
    const file = f.plan(
      'no-rollback',
      `steps:
  - { kind: zone, zone: rz03, status: drain }
  - { kind: check, windowMs: 200, slos: [{ metric: error-ratio, max: 0 }] }
report: { windowMs: 0 }
`,
    );
    failing = true;
    try {
      const r = await zg('drill', 'run', file, ...f.flags, '--no-rollback');
      assert.equal(r.code, 1);
      assert.match(r.stdout, /BROKEN {2}error ratio ≤ 0\.00%/);
      assert.doesNotMatch(r.stdout, /rolled back/);
    } finally {
      failing = false;
    }
    assert.equal(await f.version(), 2);
    assert.equal((await f.doc()).zones['rz03']?.status, 'drain');
    await f.store.close();
  });

  it('an abort condition broken during a long wait stops the run and rolls back', async () => {
    const f = await fleet();
    const file = f.plan(
      'guarded',
      `guards:
  pollMs: 100
  abortWindowMs: 300
  abortIf: [{ metric: error-ratio, max: 0.01 }]
report: { windowMs: 0 }
steps:
  - { kind: zone, zone: rz03, status: drain }
  - { kind: wait, ms: 600000 }
`,
    );
    failing = true;
    try {
      const r = await zg('drill', 'run', file, ...f.flags);
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /ABORT: abort condition broken over the last \d+ ms: error ratio ≤ 1\.00%: 9\.09%/,
      );
      assert.match(r.stdout, /\[2\/2\] wait 600000 ms\n {6}failed/);
      assert.match(r.stdout, /rolled back to the map of version 1 as version 3/);
      assert.match(r.stdout, /drill aborted/);
    } finally {
      failing = false;
    }
    assert.equal((await f.doc()).zones['rz03']?.status, 'up');
    await f.store.close();
  });

  it('the deadline aborts a run that takes too long', async () => {
    const f = await fleet();
    const file = f.plan(
      'deadline',
      `guards: { deadlineMs: 1000 }
report: { windowMs: 0 }
steps:
  - { kind: zone, zone: rz03, status: drain }
  - { kind: wait, ms: 600000 }
`,
    );
    const r = await zg('drill', 'run', file, ...f.flags);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /ABORT: the plan's deadline of 1000 ms passed \[ZG_ERR_DRILL_ABORTED\]/);
    assert.equal(await f.version(), 3);
    await f.store.close();
  });

  it('converge fails on a gateway that lags, and on a store no gateway reports to', async () => {
    const f = await fleet();
    const lagging: GatewayReport = {
      id: 'gw-lagging',
      idc: 'sz-1',
      version: 1,
      at: new Date().toISOString(),
      appliedAt: new Date().toISOString(),
      host: 'h',
      pid: 1,
      from: 'redis',
    };
    await f.store.reportGateway(lagging);
    const file = f.plan(
      'lag',
      `steps:
  - { kind: zone, zone: rz03, status: drain }
  - { kind: converge, timeoutMs: 500 }
report: { windowMs: 0 }
`,
    );
    const r = await zg('drill', 'run', file, ...f.flags);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /not converged after 0\.\ds: not on version 2: gw-lagging \(1\) \[ZG_ERR_DRILL_NOT_CONVERGED\]/,
    );
    assert.match(
      r.stdout,
      /rolled back to the map of version 1 as version 3; not on version 3: gw-lagging \(1\)/,
    );

    const empty = await fleet({ gateway: false });
    const r2 = await zg(
      'drill',
      'run',
      empty.plan(
        'nobody',
        `steps:\n  - { kind: zone, zone: rz03, status: drain }\n  - { kind: converge, timeoutMs: 300 }\nreport: { windowMs: 0 }\n`,
      ),
      ...empty.flags,
    );
    assert.equal(r2.code, 1);
    assert.match(
      r2.stdout,
      /not converged after 0\.\ds: no gateway reports to this store \[ZG_ERR_DRILL_NOT_CONVERGED\]/,
    );
    assert.equal(await empty.version(), 3, 'rolled back');
    await f.store.close();
    await empty.store.close();
  });

  it('map status --wait: exit 1 with no reporter or a stale one, 0 once every gateway runs the version', async () => {
    const empty = await fleet({ gateway: false });
    const none = await zg('map', 'status', ...empty.flags, '--wait-ms', '200');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no gateway reports to this store\n\[ZG_ERR_DRILL_NOT_CONVERGED\]/);
    const old = new Date(Date.now() - 60_000).toISOString();
    await empty.store.reportGateway({
      id: 'gw-dead',
      idc: 'hz-1',
      version: 1,
      at: old,
      appliedAt: old,
      host: 'h',
      pid: 1,
      from: 'redis',
    });
    const stale = await zg('map', 'status', ...empty.flags, '--wait-ms', '200');
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /stale \(no report for a while\): gw-dead \(60\.\ds\)/);
    // Without --wait it only shows.
    assert.equal((await zg('map', 'status', ...empty.flags)).code, 0);
    await empty.store.close();

    const f = await fleet();
    const ok = await zg('map', 'status', ...f.flags, '--wait');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`gw-${f.prefix}\\thz-1\\t1\\tcurrent`));
    assert.match(ok.stdout, /converged after \d+\.\ds on version 1/);
    await f.store.close();
  });
});
