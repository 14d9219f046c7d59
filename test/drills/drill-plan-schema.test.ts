import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidDrillPlanError } from '../../src/drill/index.js';
import { loadDrillPlanFile, loadDrillPlanText, parsePromText } from '../../src/drill/plan/index.js';
import { compileZoneMap, validateZoneMap } from '../../src/zonemap/index.js';
import { smallMap } from '../../src/lab/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { exampleDoc } from '../helpers/maps.js';
import { changePlanFor } from '../../src/drill/plan/steps.js';
import { isChangeStep } from '../../src/drill/plan/plan.js';
import { prepareChange } from '../../src/drill/index.js';
import type { ZoneMapDoc } from '../../src/zonemap/index.js';
import type { ZoneMapStore } from '../../src/zonemap/stores/index.js';

function problemsOf(text: string): string[] {
  try {
    loadDrillPlanText(text, 'plan.yaml');
  } catch (err) {
    assert.ok(err instanceof InvalidDrillPlanError, String(err));
    assert.equal(err.code, 'ZG_ERR_DRILL_PLAN_INVALID');
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

/** A store holding one map in memory: enough for prepareChange to apply every step of a plan. */
function memoryStore(doc: ZoneMapDoc): ZoneMapStore {
  let raw = { version: String(doc.version), json: JSON.stringify(doc) };
  return {
    description: 'memory',
    readRaw: () => Promise.resolve(raw),
    compareAndSet: (d) => {
      raw = { version: String(d.version), json: JSON.stringify(d) };
      return Promise.resolve();
    },
    history: () => Promise.resolve([]),
    historyDoc: () => Promise.reject(new Error('none')),
    gateways: () => Promise.resolve([]),
    forgetGateway: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

describe('drill plan schema', () => {
  const dir = join(REPO_ROOT, 'policies/drills');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    it(`${file} is valid, and every change it makes is a valid map for its fleet`, async () => {
      const plan = await loadDrillPlanFile(join(dir, file));
      const base = file.startsWith('lab-') ? smallMap() : exampleDoc();
      const store = memoryStore(base);
      let writes = 0;
      for (const step of plan.steps.filter(isChangeStep)) {
        // Throws on an unknown zone / city or an invalid result; refused = a guard rail the plan did not allow.
        const change = await prepareChange(store, changePlanFor(step), {
          maxMovePercent: plan.guards?.maxMovePercent ?? 25,
          force: step.force === true,
        });
        assert.equal(change.refused, false, `${file}: ${change.action}: ${change.violations.join('; ')}`);
        assert.equal(change.noop, false, `${file}: ${change.action} changes nothing`);
        await store.compareAndSet(change.doc, change.expected, {
          who: 't',
          reason: '',
          action: '',
          summary: '',
        });
        writes++;
      }
      assert.ok(writes > 0);
      const last = JSON.parse((await store.readRaw()).json ?? 'null') as ZoneMapDoc;
      assert.ok(validateZoneMap(last).ok);
      compileZoneMap(last);
    });
  }

  it('lists every problem: unknown step kind, unknown field, missing field, out of range, empty release', () => {
    const problems = problemsOf(
      [
        'name: bad plan',
        'steps:',
        '  - { kind: zone, zone: rz03, status: sideways }',
        '  - { kind: teleport }',
        '  - { kind: wait, ms: 10, seconds: 3 }',
        '  - { kind: converge }',
        '  - { kind: check, windowMs: 100, slos: [{ metric: error-ratio, max: 2 }, { metric: vibes, max: 1 }] }',
        '  - { kind: release, zone: rz03 }',
      ].join('\n'),
    );
    assert.deepEqual(problems.sort(), [
      'name: has an invalid format (expected ^[A-Za-z0-9_-]{1,64}$)',
      'steps[0].status: must be one of up, drain, down',
      'steps[1].kind: must be one of zone, idc, city, weight, shards, release, wait, converge, check, pause',
      'steps[2].seconds: is not a known property',
      'steps[3].timeoutMs: is required',
      'steps[4].slos[0].max: must be <= 1',
      'steps[4].slos[1].metric: must be one of error-ratio, no-live-zone, upstream-latency, mqtt-moves-failed',
    ]);
  });

  it('refuses a release step that releases nothing, and a plan that changes nothing', () => {
    assert.deepEqual(problemsOf('name: p\nsteps:\n  - { kind: release, zone: rz03 }\n'), [
      'steps[0]: a release step needs green, greenShards and/or greenUids',
    ]);
    assert.deepEqual(problemsOf('name: p\nsteps:\n  - { kind: wait, ms: 1 }\n'), [
      'steps: has no step that changes the zone map',
    ]);
  });
});

describe('Prometheus text parser', () => {
  it('reads what prom-client writes: labels with escapes, NaN in any case, +Inf buckets, timestamps', () => {
    const samples = parsePromText(
      [
        '# HELP zonegate_http_requests_total HTTP requests answered.',
        '# TYPE zonegate_http_requests_total counter',
        'zonegate_http_requests_total{protocol="http",zone="rz03",status_class="5xx"} 7',
        'zonegate_x{path="a\\"b\\\\c\\nd",empty=""} 1.5e3 1712345678000',
        'zonegate_nodejs_eventloop_lag_mean_seconds{idc="sh-1"} Nan',
        'zonegate_upstream_latency_seconds_bucket{le="+Inf"} 12',
        'plain 3',
        '',
      ].join('\n'),
    );
    assert.equal(samples.length, 5);
    assert.deepEqual(samples[0], {
      name: 'zonegate_http_requests_total',
      labels: { protocol: 'http', zone: 'rz03', status_class: '5xx' },
      value: 7,
    });
    assert.deepEqual(samples[1]?.labels, { path: 'a"b\\c\nd', empty: '' });
    assert.equal(samples[1]?.value, 1500);
    assert.ok(Number.isNaN(samples[2]?.value));
    assert.equal(samples[3]?.labels['le'], '+Inf');
    assert.deepEqual(samples[4], { name: 'plain', labels: {}, value: 3 });
  });

  it('refuses a malformed line with its number, rather than passing a check on half the data', () => {
    for (const bad of ['x{a="1" 2', 'x{a=1} 2', 'x 1 2 3', 'x{a="\\q"} 1', 'x abc', '{a="1"} 2']) {
      assert.throws(() => parsePromText(`ok 1\n${bad}\n`), /line 2:/, bad);
    }
  });

  it('reads back any exposition written by the rules (property)', () => {
    const name = fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/);
    const label = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/);
    const sample = fc.record({
      name,
      labels: fc.dictionary(label, fc.string({ maxLength: 20 }), { maxKeys: 4 }),
      value: fc.double({ noNaN: true }),
    });
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 20 }), (samples) => {
        const text = samples
          .map((s) => {
            const l = Object.entries(s.labels).map(([k, v]) => `${k}="${esc(v)}"`);
            const v = s.value === Infinity ? '+Inf' : s.value === -Infinity ? '-Inf' : String(s.value);
            return `${s.name}${l.length === 0 ? '' : `{${l.join(',')}}`} ${v}`;
          })
          .join('\n');
        const back = parsePromText(text);
        assert.equal(back.length, samples.length);
        back.forEach((b, i) => {
          assert.equal(b.name, samples[i]?.name);
          assert.deepEqual({ ...b.labels }, { ...samples[i]?.labels });
          assert.ok(Object.is(b.value, samples[i]?.value) || b.value === samples[i]?.value);
        });
      }),
    );
  });
});
