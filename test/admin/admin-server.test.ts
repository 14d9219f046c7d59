import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  startAdminServer,
  type AdminServer,
  type AdminTarget,
  type ZoneMapView,
} from '../../src/admin/admin-server.js';
import { ReloadFailedError } from '../../src/admin/errors.js';
import { createMetrics } from '../../src/admin/metrics.js';

function stubMap(version: number): ZoneMapView {
  return { version, doc: { version, shards: 100, cities: {}, zones: {} } };
}

class StubTarget implements AdminTarget {
  map: ZoneMapView | null = null;
  draining = false;
  drains = 0;
  reloads = 0;
  failReload = false;
  getMap(): ZoneMapView | null {
    return this.map;
  }
  isDraining(): boolean {
    return this.draining;
  }
  startDrain(): void {
    this.drains++;
    this.draining = true;
  }
  reload(): Promise<{ reloaded: string[] }> {
    if (this.failReload) return Promise.reject(new ReloadFailedError('bad certificate'));
    this.reloads++;
    return Promise.resolve({ reloaded: ['certificates'] });
  }
}

describe('admin server', () => {
  let dir: string;
  let server: AdminServer;
  const target = new StubTarget();
  const metrics = createMetrics();
  const token = 's3cret-admin-token';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zg-admin-'));
    await writeFile(join(dir, 'token'), `${token}\n`);
    server = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      tokenFile: join(dir, 'token'),
      target,
      collectMetrics: async () => ({
        contentType: metrics.registry.contentType,
        body: await metrics.registry.metrics(),
      }),
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is not ready before a zone map is loaded, and ready after', async () => {
    let res = await fetch(`${server.url}/readyz`);
    assert.equal(res.status, 503);
    res = await fetch(`${server.url}/zonemap`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: string }).error, 'ZG_ERR_NO_ZONEMAP');
    target.map = stubMap(12);
    res = await fetch(`${server.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ready: true, zonemapVersion: 12 });
  });

  it('serves the current zone map and its version', async () => {
    target.map = stubMap(13);
    const res = await fetch(`${server.url}/zonemap`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { version: number; map: { version: number } };
    assert.equal(body.version, 13);
    assert.equal(body.map.version, 13);
  });

  it('refuses writes without a valid token with 401 and changes nothing', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Basic ${token}` },
    ];
    for (const headers of attempts) {
      for (const path of ['/drain', '/reload']) {
        const res = await fetch(`${server.url}${path}`, { method: 'POST', headers });
        assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
        const body = (await res.json()) as { error: string; reason: string; requestId: string };
        assert.equal(body.error, 'ZG_ERR_ADMIN_UNAUTHORIZED');
        assert.equal(body.requestId, res.headers.get('x-request-id'));
      }
    }
    assert.equal(target.drains, 0);
    assert.equal(target.reloads, 0);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('reloads with a token and reports a failed reload as 500 with its code', async () => {
    const auth = { authorization: `Bearer ${token}` };
    let res = await fetch(`${server.url}/reload`, { method: 'POST', headers: auth });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { reloaded: ['certificates'] });
    target.failReload = true;
    res = await fetch(`${server.url}/reload`, { method: 'POST', headers: auth });
    assert.equal(res.status, 500);
    assert.equal(((await res.json()) as { error: string }).error, 'ZG_ERR_RELOAD_FAILED');
    assert.equal(target.reloads, 1);
  });

  it('answers 404 and 405 with stable codes', async () => {
    let res = await fetch(`${server.url}/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'ZG_ERR_ADMIN_NOT_FOUND');
    res = await fetch(`${server.url}/drain`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.equal(target.drains, 0);
  });

  it('exposes zonegate_ metrics whose values move', async () => {
    const scrape = async (): Promise<string> => {
      const res = await fetch(`${server.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      return res.text();
    };
    const before = await scrape();
    assert.match(before, /^zonegate_zonemap_version 0$/m);
    metrics.recordApply(14, 0.002);
    metrics.httpRequests.inc({
      protocol: 'http',
      zone: 'rz00',
      colour: 'blue',
      reason: 'uid-shard',
      status_class: '2xx',
    });
    const afterScrape = await scrape();
    assert.match(afterScrape, /^zonegate_zonemap_version 14$/m);
    assert.match(
      afterScrape,
      /^zonegate_http_requests_total\{protocol="http",zone="rz00",colour="blue",reason="uid-shard",status_class="2xx"\} 1$/m,
    );
    assert.match(afterScrape, /^zonegate_zonemap_apply_seconds_count 1$/m);
  });

  it('fails /healthz and /readyz once a drain starts with a valid token', async () => {
    const res = await fetch(`${server.url}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 202);
    assert.equal(target.drains, 1);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 503);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
  });
});
