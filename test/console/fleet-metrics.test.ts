import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/admin/metrics.js';
import { parseGatewayMetrics, zoneStats } from '../../src/console/index.js';
import { parseAction, planFor } from '../../src/console/index.js';
import { runCli } from '../helpers/cli.js';

/** A gateway's real exposition after `record` ran, as the console scrapes it. */
async function exposition(record: (m: ReturnType<typeof createMetrics>) => void): Promise<string> {
  const m = createMetrics();
  m.setIdc('hz-1');
  record(m);
  return m.registry.metrics();
}

describe('console: per-zone figures from gateway metrics', () => {
  it('turns two scrapes into request rate, 5xx ratio and p99 per zone, and sessions per zone', async () => {
    let requests = 0;
    const m = createMetrics();
    m.mqttSessions.set({ zone: 'rz03' }, 4);
    const before = parseGatewayMetrics(await m.registry.metrics(), 0);
    for (let i = 0; i < 200; i++) {
      const status = i < 10 ? '5xx' : '2xx';
      m.httpRequests.inc({
        protocol: 'http',
        zone: 'rz03',
        colour: 'blue',
        reason: 'home',
        status_class: status,
      });
      // 198 fast answers and 2 slow ones: the 99th percentile sits in the 5 ms bucket.
      m.httpRequestDuration.observe(
        { protocol: 'http', zone: 'rz03', colour: 'blue', status_class: status },
        i < 198 ? 0.004 : 0.3,
      );
      requests++;
    }
    const after = parseGatewayMetrics(await m.registry.metrics(), 2000);
    const [rz03, rz05] = zoneStats([{ prev: before, cur: after }], ['rz03', 'rz05']);
    assert.equal(rz03?.rps, requests / 2);
    assert.equal(rz03?.errorRatio, 10 / 200);
    assert.equal(rz03?.p99Ms, 5);
    assert.equal(rz03?.mqttSessions, 4);
    assert.deepEqual(rz05, { zone: 'rz05', rps: 0, errorRatio: null, p99Ms: null, mqttSessions: 0 });
  });

  it('counts a restarted gateway (counters fell) from zero instead of going negative', async () => {
    const big = parseGatewayMetrics(
      await exposition((m) =>
        m.httpRequests.inc(
          { protocol: 'http', zone: 'rz01', colour: 'blue', reason: 'home', status_class: '2xx' },
          1000,
        ),
      ),
      0,
    );
    const restarted = parseGatewayMetrics(
      await exposition((m) =>
        m.httpRequests.inc(
          { protocol: 'http', zone: 'rz01', colour: 'blue', reason: 'home', status_class: '2xx' },
          30,
        ),
      ),
      1000,
    );
    assert.equal(zoneStats([{ prev: big, cur: restarted }], ['rz01'])[0]?.rps, 30);
    assert.equal(restarted.version, 0);
  });

  it('ignores lines that are not metrics it knows, and malformed ones', () => {
    const s = parseGatewayMetrics(
      'garbage\nzonegate_http_requests_total{zone="rz01" 3\n# HELP x\nzonegate_zonemap_version 7\n',
      0,
    );
    assert.equal(s.version, 7);
    assert.equal(s.requests.size, 0);
  });
});

describe('console: actions are the CLI plans', () => {
  it('records the CLI action text', () => {
    const text = (a: unknown): string => planFor(parseAction(a)).action;
    assert.equal(text({ kind: 'status', noun: 'idc', name: 'hz-2', status: 'drain' }), 'idc drain hz-2');
    assert.equal(text({ kind: 'weight', zone: 'rz01', weight: '30' }), 'zone weight rz01 30');
    assert.equal(text({ kind: 'shards', shards: '30-34, 39', to: 'rz05' }), 'shards move 30-34,39 --to rz05');
    assert.equal(
      text({ kind: 'release', zone: 'rz01', green: '25', greenUids: 'a,b' }),
      'release rz01 --green 25 --green-uids 2 uid(s)',
    );
    assert.equal(text({ kind: 'rollback', version: 4 }), 'rollback to 4');
  });

  it('refuses malformed actions with the field named', () => {
    assert.throws(
      () => parseAction({ kind: 'status', noun: 'zone', name: 'rz01', status: 'off' }),
      /action.status/,
    );
    assert.throws(
      () => parseAction({ kind: 'status', noun: 'zone', name: '../x', status: 'up' }),
      /action.name/,
    );
    assert.throws(() => parseAction({ kind: 'rollback', version: 0 }), /action.version/);
    assert.throws(
      () => planFor(parseAction({ kind: 'weight', zone: 'rz01', weight: '-1' })),
      /weight must be a number/,
    );
    assert.throws(() => parseAction({ kind: 'eval' }), /action.kind/);
  });

  it('`zonegate console` refuses bad options before opening anything', async () => {
    const r = await runCli(['console', '--redis', 'redis://127.0.0.1:1', '--gateways', 'not-a-url']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--gateways wants admin base URLs/);
    const tls = await runCli(['console', '--redis', 'redis://127.0.0.1:1', '--client-ca', 'ca.pem']);
    assert.equal(tls.code, 2);
    assert.match(tls.stderr, /--client-ca needs --tls-cert/);
  });
});
