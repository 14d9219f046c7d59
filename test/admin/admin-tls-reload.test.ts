import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';

async function servedCommonName(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(
      { host: '127.0.0.1', port, ca, servername: 'localhost', rejectUnauthorized: false },
      () => {
        const cert: PeerCertificate = s.getPeerCertificate();
        s.destroy();
        resolve(String(cert.subject.CN));
      },
    );
    s.on('error', reject);
  });
}

describe('admin TLS reload (SIGHUP)', () => {
  let certs: TestCerts;
  let dir: string;
  let server: AdminServer;
  let ca: Buffer;

  before(async () => {
    certs = await testCerts();
    ca = await readFile(certs.ca);
    dir = await mkdtemp(join(tmpdir(), 'zg-admin-tls-'));
    await copyFile(certs.serverCert, join(dir, 'cert.pem'));
    await copyFile(certs.serverKey, join(dir, 'key.pem'));
    server = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      tokenFile: null,
      tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') },
      target: {
        getMap: () => null,
        isDraining: () => false,
        startDrain: () => undefined,
        reload: () => Promise.resolve({ reloaded: [] }),
      },
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the new certificate after a reload', async () => {
    assert.equal(await servedCommonName(server.port, ca), 'localhost');
    await copyFile(certs.otherCert, join(dir, 'cert.pem'));
    await copyFile(certs.otherKey, join(dir, 'key.pem'));
    assert.equal(await server.reloadTls(), true);
    assert.equal(await servedCommonName(server.port, ca), 'other.test');
  });

  it('keeps the working certificate when the new files do not match', async () => {
    await copyFile(certs.serverCert, join(dir, 'cert.pem')); // key.pem is still other.test's
    await assert.rejects(server.reloadTls(), { code: 'ZG_ERR_RELOAD_FAILED' });
    assert.equal(await servedCommonName(server.port, ca), 'other.test');
  });
});
