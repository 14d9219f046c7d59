/**
 * The console over HTTPS with client certificates, driven by curl: a certificate from the
 * trusted CA may change the map (its CN is the operator's name in the history); none, or one
 * from another CA, may only read.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import type { ConsoleServer } from '../../src/console/index.js';
import type { RedisZoneMapStore } from '../../src/zonemap/stores/index.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import { curl } from '../helpers/http-client.js';
import { startInProcessConsole, type InProcessConsole } from './support.js';

describe('console over TLS with client certificates', () => {
  let certs: TestCerts;
  let consoleUnderTest: InProcessConsole;
  let store: RedisZoneMapStore;
  let server: ConsoleServer;

  before(async () => {
    certs = await testCerts();
    consoleUnderTest = await startInProcessConsole({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
      token: null,
    });
    ({ store, server } = consoleUnderTest);
  });
  after(() => consoleUnderTest?.close());

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
