import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { DemoAnswer } from '../../src/gateway/demo-upstreams.js';
import { busOf, startHarness, type Harness } from './harness.js';

interface Seen {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: DemoAnswer & { error?: string; reason?: string };
}

async function get(
  url: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'POST' = 'GET',
  body?: string,
): Promise<Seen> {
  const res = await request(url, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as Seen['body'] };
}

describe('HTTP forwarding by the router decision', () => {
  let h: Harness;
  const reasons: string[] = [];
  before(async () => {
    h = await startHarness({
      events: busOf((b) => b.requestDone.subscribe((e) => reasons.push(`${e.zone} ${e.reason}`))),
    });
  });
  const last = (): string => reasons.at(-1) ?? '';
  after(async () => {
    await h.close();
  });

  it('sends anonymous traffic to a weighted RZone of its own IDC', async () => {
    const zones = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await get(`${h.url}/hello`);
      assert.equal(r.status, 200);
      zones.add(r.body.zone);
      assert.equal(r.headers['x-ldc-zone'], r.body.zone);
    }
    // hz-1 holds rz00 (weight 100) and rz01 (weight 50); nothing else may show up.
    for (const z of zones) assert.ok(z === 'rz00' || z === 'rz01', z);
    assert.match(last(), /^rz0[01] anonymous-weighted$/);
  });

  it('sends anonymous traffic to its city, then anywhere, when its IDC takes none', async () => {
    await h.applyMap((d) => {
      d.zones.rz00!.weight = 0;
      d.zones.rz01!.weight = 0;
    });
    const city = await get(`${h.url}/`);
    assert.ok(['rz02', 'rz03'].includes(city.body.zone), city.body.zone);
    assert.match(last(), /^rz0[23] anonymous-city$/);
    await h.applyMap((d) => {
      for (const z of ['rz00', 'rz01', 'rz02', 'rz03']) d.zones[z]!.weight = 0;
    });
    const any = await get(`${h.url}/`);
    assert.ok(!['rz00', 'rz01', 'rz02', 'rz03'].includes(any.body.zone), any.body.zone);
    assert.match(last(), / anonymous-any$/);
    await h.applyMap(() => {});
  });

  it('sends a uid to the zone owning its shard, in another IDC directly, and tells the upstream who and where', async () => {
    const r = await get(`${h.url}/orders`, { 'x-ldc-uid': '1234' });
    assert.equal(r.status, 200);
    assert.equal(r.body.zone, 'rz03'); // shard 34 → rz03 (hz-2)
    assert.equal(r.body.uid, '1234');
    assert.equal(r.body.headers['x-ldc-zone'], 'rz03');
    assert.equal(r.body.headers['x-ldc-colour'], r.body.colour);
    assert.equal(r.body.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(r.body.headers['x-forwarded-proto'], 'http');
    assert.equal(last(), 'rz03 uid-shard');
    // Colour: rz00 releases uid 10000001 to green (greenUids); its upstream says so.
    const green = await get(`${h.url}/orders`, { 'x-ldc-uid': '10000001' });
    assert.deepEqual(
      [green.body.zone, green.body.colour, green.headers['x-ldc-colour']],
      ['rz00', 'green', 'green'],
    );
  });

  it('sends gzone and czone routes to the GZone and to the CZone of its city', async () => {
    assert.equal((await get(`${h.url}/global/config`, { 'x-ldc-uid': '1234' })).body.zone, 'gz00');
    assert.equal(last(), 'gz00 gzone');
    assert.equal((await get(`${h.url}/static/app.js`)).body.zone, 'cz-hz');
    assert.equal(last(), 'cz-hz czone');
  });

  it('strips client-sent x-ldc-* and x-forwarded-* headers', async () => {
    const r = await get(`${h.url}/x`, {
      'x-ldc-uid': '1234',
      'x-ldc-zone': 'rz09',
      'x-ldc-hop': 'sz-1',
      'x-forwarded-for': '6.6.6.6',
    });
    assert.equal(r.body.zone, 'rz03');
    assert.equal(r.body.headers['x-ldc-hop'], undefined);
    assert.equal(r.body.headers['x-ldc-zone'], 'rz03');
    assert.equal(r.body.headers['x-forwarded-for'], '127.0.0.1');
  });

  it('streams a POST body through to the upstream', async () => {
    const r = await get(`${h.url}/upload`, { 'x-ldc-uid': '7' }, 'POST', 'x'.repeat(100_000));
    assert.equal(r.status, 200);
    assert.equal((r.body as unknown as { bodyBytes: number }).bodyBytes, 100_000);
    assert.equal(r.body.method, 'POST');
  });

  it('follows a failover in a new zone map without a restart, and answers 503 when no zone is live', async () => {
    await h.applyMap((d) => {
      d.zones.rz03!.status = 'down';
    });
    const moved = await get(`${h.url}/orders`, { 'x-ldc-uid': '1234' });
    assert.equal(moved.body.zone, 'rz01'); // rz03's failover list: [rz01, rz07]
    assert.equal(last(), 'rz01 failover:rz03->rz01');
    await h.applyMap((d) => {
      d.zones.rz03!.status = 'down';
      d.zones.rz01!.status = 'down';
      d.zones.rz07!.status = 'down';
    });
    const dead = await get(`${h.url}/orders`, { 'x-ldc-uid': '1234' });
    assert.equal(dead.status, 503);
    assert.equal(dead.headers['x-ldc-reason'], 'ZG_ERR_NO_LIVE_ZONE');
    assert.equal(dead.body.error, 'ZG_ERR_NO_LIVE_ZONE');
    assert.equal(dead.body.reason, 'no live zone can serve this request');
    await h.applyMap(() => {});
    assert.equal((await get(`${h.url}/orders`, { 'x-ldc-uid': '1234' })).body.zone, 'rz03');
  });
});
