/**
 * The lab end to end, small: three cities of one IDC, a gateway process each, a mosquitto per
 * zone, users with cookies (most of them roaming to another city's gateway), anonymous users
 * and QoS 1 MQTT users; a city failover and back, run as a drill plan.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadDrillPlanFile } from '../../src/drill/plan/index.js';
import { formatLabResult, runLab, smallMap } from '../../src/lab/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

describe('zonegate lab', () => {
  it('a city failover and back: no failed request, no wrong zone, no lost QoS 1 message', async () => {
    const plan = await loadDrillPlanFile(join(REPO_ROOT, 'policies/drills/lab-city-failover.yaml'));
    const lines: string[] = [];
    const r = await runLab({
      map: smallMap(),
      plan,
      gatewaysPerIdc: 1,
      httpUsers: 30,
      anonymousUsers: 6,
      mqttUsers: 9,
      thinkMs: 100,
      publishMs: 200,
      interIdcDelayMs: 5,
      warmupMs: 1000,
      settleMs: 1000,
      maxDrillMs: 120_000,
      zonegate: ['--import', 'tsx', join(REPO_ROOT, 'src/cli/run.ts')],
      log: (l) => lines.push(l),
    });
    const summary = formatLabResult(r).join('\n');
    assert.equal(r.report.result, 'passed', `${summary}\n${JSON.stringify(r.report.steps, null, 2)}`);
    assert.equal(r.gateways, 3);
    assert.deepEqual(
      r.report.steps.map((s) => [s.kind, s.result]),
      [
        ['city', 'ok'],
        ['converge', 'ok'],
        ['check', 'ok'],
        ['city', 'ok'],
        ['converge', 'ok'],
        ['check', 'ok'],
      ],
    );
    assert.ok(r.http.requests > 100, summary);
    assert.equal(r.http.failed, 0, summary);
    assert.equal(r.http.wrongZone, 0, summary);
    assert.ok(r.mqtt.acked > 0, summary);
    assert.equal(r.mqtt.lost, 0, summary);
    assert.equal(r.mqtt.disconnects, 0, 'moved under their open connections');
    // uids 1,103,003 + 7919·(100000+i): the MQTT users of rz02 move to rz01 and back.
    assert.ok(r.mqtt.movedOk > 0 && r.mqtt.movedFailed === 0, summary);
    assert.deepEqual(
      r.writes.map((w) => w.version),
      [2, 3],
    );
    assert.equal(r.rtoMs, 0, summary);
    // The checks read real figures from the gateways' own /metrics.
    const check = r.report.steps[2];
    assert.match(check?.slos?.[0]?.detail ?? '', /^0\.00% \(0 of [1-9]\d*\)$/);
    assert.ok((r.report.figures.during?.requests ?? 0) > 0);
  });
});
