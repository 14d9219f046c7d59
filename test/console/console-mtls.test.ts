/**
 * The console over HTTPS with client certificates, driven by curl: a certificate from the
 * trusted CA may change the map (its CN is the operator's name in the history); none, or one
 * from another CA, may only read.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startConsoleServer, type ConsoleServer } from '../../src/console/index.js';
import { RedisZoneMapStore, writeZoneMap } from '../../src/zonemap/stores/index.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { curl } from '../helpers/http-client.js';
import { exampleDoc } from '../helpers/maps.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

describe('console over TLS with client certificates', () => {
  let redis: RedisServer;
  let store: RedisZoneMapStore;
  let certs: TestCerts;
  let server: ConsoleServer;
  let assets: string | undefined;

  before(async () => {
    // Its own copy of the page: the browser test may be rebuilding dist/console-web meanwhile.
    const assetsDir = mkdtempSync(join(tmpdir(), 'zg-console-assets-'));
    assets = assetsDir;
    const built = spawnSync(process.execPath, ['scripts/build-console.mjs', assetsDir], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, built.stderr);
    certs = await testCerts();
    redis = await startRedis();
    store = await RedisZoneMapStore.open({ url: redis.url }, 'test');
    await writeZoneMap(store, { ...exampleDoc(), version: 1 }, null, {
      who: 't@h',
      reason: 'seed',
      action: 'seed',
      summary: '',
    });
    server = await startConsoleServer({
      store,
      host: '127.0.0.1',
      port: 0,
      tokenFile: null,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
      gateways: [],
      refreshMs: 1000,
      staleMs: 15_000,
      maxMovePercent: 25,
      assetsDir,
    });
  });
  after(async () => {
    await server?.close();
    await store?.close();
    await redis?.stop();
    if (assets !== undefined) rmSync(assets, { recursive: true, force: true });
  });

  const body = JSON.stringify({
    action: { kind: 'weight', zone: 'rz01', weight: '30' },
    expected: 1,
    reason: 'rebalance hz-1',
    operator: 'ignored-when-a-certificate-names-you',
  });
  const apply = (...args: string[]) =>
    curl([
      '--cacert',
      certs.ca,
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '--data',
      body,
      ...args,
      `https://localhost:${server.port}/api/apply`,
    ]);

  it('serves the page to anyone, with its security headers', async () => {
    const r = await curl(['--cacert', certs.ca, `https://localhost:${server.port}/`]);
    assert.equal(r.status, 200);
    assert.match(r.body, /<script type="module" src="\/assets\/console.js">/);
    assert.match(r.headers['content-security-policy'] ?? '', /script-src 'self'/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
  });

  it('refuses a change without a certificate, or with one from another CA', async () => {
    assert.equal((await apply()).status, 401);
    assert.equal((await apply('--cert', certs.strangerCert, '--key', certs.strangerKey)).status, 401);
    assert.equal((await store.read())?.version, 1);
  });

  it("writes the change for a trusted certificate, named by the certificate's CN", async () => {
    const r = await apply('--cert', certs.clientCert, '--key', certs.clientKey);
    assert.equal(r.status, 200, r.body);
    const [entry] = await store.history(1);
    assert.equal(entry?.version, 2);
    assert.equal(entry?.action, 'zone weight rz01 30');
    assert.equal(entry?.who, `${certs.clientUid}@${hostname()}`);
    assert.equal(entry?.reason, 'rebalance hz-1');
    assert.equal((await store.read())?.zones['rz01']?.weight, 30);
  });
});
