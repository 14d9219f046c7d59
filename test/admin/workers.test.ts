/**
 * `zonegate start --workers 2`, the real thing (CLI → src/gateway/process.ts → node:cluster):
 * both workers serve, the primary's admin listener sums their metrics, a map update reaches
 * every worker, a worker that dies is replaced, and POST /drain drains them all and exits 0.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { freePort } from '../helpers/child-processes.js';
import { metricSum as sum, startGatewayProcess, type StartedGateway } from '../helpers/gateway-process.js';
import { waitFor, within } from '../helpers/wait.js';

/** What the primary's /readyz answers. */
interface Readyz {
  readonly ready: boolean;
  readonly zonemapVersion?: number;
}

describe('zonegate start --workers 2', () => {
  let dir: string;
  let upstream: Server;
  let gw: StartedGateway;
  const token = 'workers-test-token';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zg-workers-'));
    upstream = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    await writeFile(join(dir, 'token'), `${token}\n`);
    gw = await startGatewayProcess({
      dir,
      upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      workers: 2,
      // The workers share the listening sockets through the primary: fixed ports.
      ports: { http: await freePort(), mqtt: await freePort() },
      config: {
        admin: { host: '127.0.0.1', port: 0, tokenFile: join(dir, 'token') },
        drain: { delayMs: 0, timeoutMs: 3000 },
        workers: { restartDelayMs: 10 },
      },
    });
  });
  after(async () => {
    await gw.stop('SIGKILL');
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    await rm(dir, { recursive: true, force: true });
  });
  const readyz = async (): Promise<Readyz> =>
    (await (await request(`${gw.admin}/readyz`)).body.json()) as Readyz;

  it('serves from both workers and the primary sums their metrics', async () => {
    await waitFor('/readyz ready', async () => (await readyz()).ready);
    const pids = new Set(
      (await gw.waitForAll(/"msg":"gateway up"/, 2)).map((m) => (JSON.parse(m.input) as { pid: number }).pid),
    );
    assert.equal(pids.size, 2, 'two worker processes');
    const n = 40;
    for (let i = 0; i < n; i++) {
      // A new connection each time, so the cluster's round-robin spreads them over workers.
      const res = await request(`${gw.http}/w`, {
        headers: { 'x-ldc-uid': '10000005', connection: 'close' },
      });
      await res.body.text();
      assert.equal(res.statusCode, 200);
    }
    const text = await (await request(`${gw.admin}/metrics`)).body.text();
    assert.equal(sum(text, 'zonegate_http_requests_total', { zone: 'rz00' }), n, 'summed over workers');
    assert.equal(sum(text, 'zonegate_zonemap_version'), 1, 'versions are not summed');
  });

  it('brings a map update to every worker: /readyz shows the oldest version in use', async () => {
    const doc = JSON.parse(await readFile(gw.mapFile, 'utf8')) as { version: number };
    await writeFile(gw.mapFile, JSON.stringify({ ...doc, version: 2 }));
    await waitFor('/readyz at map version 2', async () => (await readyz()).zonemapVersion === 2);
    const applied = await (await request(`${gw.admin}/metrics`)).body.text();
    assert.equal(sum(applied, 'zonegate_zonemap_apply_seconds_count'), 2, 'one apply per worker');
    assert.equal(sum(applied, 'zonegate_zonemap_version'), 2);
  });

  it('replaces a worker that dies, and keeps its requests counted', async () => {
    const before = sum(
      await (await request(`${gw.admin}/metrics`)).body.text(),
      'zonegate_http_requests_total',
    );
    const [first] = await gw.waitForAll(/"msg":"gateway up"/, 1);
    process.kill((JSON.parse(first!.input) as { pid: number }).pid, 'SIGKILL');
    await gw.waitFor(/worker died; replacing it/);
    await gw.waitForAll(/"msg":"gateway up"/, 3);
    await waitFor('/readyz ready', async () => (await readyz()).ready);
    const res = await request(`${gw.http}/again`, {
      headers: { 'x-ldc-uid': '10000005', connection: 'close' },
    });
    assert.equal(res.statusCode, 200);
    await res.body.text();
    // A summed counter never goes backwards when a worker dies.
    const after = sum(
      await (await request(`${gw.admin}/metrics`)).body.text(),
      'zonegate_http_requests_total',
    );
    assert.ok(after >= before + 1, `requests_total ${before} → ${after}`);
  });

  it('drains every worker on POST /drain, then the primary exits 0', async () => {
    const res = await request(`${gw.admin}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.statusCode, 202);
    await res.body.text();
    assert.equal(await within('the drained primary to exit', gw.exited), 0);
    await assert.rejects(request(`${gw.http}/`), /ECONNREFUSED/);
  });
});
