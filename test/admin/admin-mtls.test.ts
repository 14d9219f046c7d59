import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';

describe('admin API over TLS with client certificates', () => {
  let certs: TestCerts;
  let server: AdminServer;
  let drains = 0;

  before(async () => {
    certs = await testCerts();
    server = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      tokenFile: null,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true },
      target: {
        getMap: () => null,
        isDraining: () => drains > 0,
        startDrain: () => {
          drains++;
        },
        reload: () => Promise.resolve({ reloaded: [] }),
      },
    });
  });
  after(() => server.close());

  async function agent(cert?: string, key?: string): Promise<Agent> {
    return new Agent({
      connect: {
        ca: await readFile(certs.ca),
        ...(cert === undefined || key === undefined
          ? {}
          : { cert: await readFile(cert), key: await readFile(key) }),
      },
    });
  }

  async function post(dispatcher: Agent): Promise<number> {
    const res = await request(`https://localhost:${server.port}/drain`, { method: 'POST', dispatcher });
    await res.body.text();
    await dispatcher.close();
    return res.statusCode;
  }

  it('lets probes in without a certificate but refuses their writes', async () => {
    const a = await agent();
    const res = await request(`https://localhost:${server.port}/healthz`, { dispatcher: a });
    assert.equal(res.statusCode, 200);
    await res.body.text();
    assert.equal(await post(a), 401);
    assert.equal(drains, 0);
  });

  it('refuses a client certificate from a CA it does not trust', async () => {
    assert.equal(await post(await agent(certs.strangerCert, certs.strangerKey)), 401);
    assert.equal(drains, 0);
  });

  it('accepts a write from a trusted client certificate', async () => {
    assert.equal(await post(await agent(certs.clientCert, certs.clientKey)), 202);
    assert.equal(drains, 1);
  });
});
