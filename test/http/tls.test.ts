import assert from 'node:assert/strict';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DemoAnswer } from '../../src/gateway/demo-upstreams.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import { curl } from '../helpers/http-client.js';
import { startHarness, type Harness } from './harness.js';

describe('HTTPS edge: certificate reload on SIGHUP (Gateway.reload)', () => {
  it('serves a swapped certificate to new handshakes after reload, with the file watch off', async () => {
    const c = await testCerts();
    const dir = await mkdtemp(join(tmpdir(), 'zg-reload-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await copyFile(c.serverCert, cert);
    await copyFile(c.serverKey, key);
    const h = await startHarness({
      config: {
        listeners: [
          { name: 'web', protocol: 'https', port: 0, host: '127.0.0.1', tls: { cert, key, watch: false } },
        ],
      },
    });
    try {
      const url = `https://localhost:${h.gw.address('web').port}/x`;
      const subject = async (): Promise<string> => {
        const r = await curl(['-v', '--cacert', c.ca, url]);
        assert.equal(r.status, 200);
        return /subject: CN=([\w.]+)/.exec(r.stderr)?.[1] ?? '';
      };
      assert.equal(await subject(), 'localhost');
      await copyFile(c.otherCert, cert);
      await copyFile(c.otherKey, key);
      assert.equal(await subject(), 'localhost', 'no reload yet: the old certificate stays');
      await h.gw.reload();
      assert.equal(await subject(), 'other.test');
      // A broken file is refused and the last good certificate stays in service.
      await writeFile(key, 'not a key');
      await assert.rejects(h.gw.reload(), { code: 'ZG_ERR_TLS_CONFIG' });
      assert.equal(await subject(), 'other.test');
    } finally {
      await h.close();
    }
  });
});

describe('HTTPS edge: h2, mTLS, uid from the client certificate', () => {
  let h: Harness;
  let c: TestCerts;
  let base: string;
  const hits = (): number => [...h.ups.hits.values()].reduce((a, b) => a + b, 0);
  before(async () => {
    c = await testCerts();
    h = await startHarness({
      config: {
        listeners: [
          {
            name: 'web',
            protocol: 'https',
            port: 0,
            host: '127.0.0.1',
            tls: { cert: c.serverCert, key: c.serverKey, ca: c.ca, crl: c.crl, requestCert: true },
          },
        ],
        identity: {
          cookie: { keys: [{ id: 'k1', secret: 'test-secret-0123456789abcdef' }] },
          certUid: { from: 'san-uri', pattern: '^urn:zonegate:uid:(.+)$' },
        },
      },
    });
    base = `https://localhost:${h.gw.address('web').port}`;
  });
  after(async () => {
    await h.close();
  });

  const client = (): string[] => ['--cacert', c.ca, '--cert', c.clientCert, '--key', c.clientKey];

  it('serves HTTP/2 to curl --http2 and HTTP/1.1 to curl --http1.1 on one port', async () => {
    const h2 = await curl([...client(), '--http2', `${base}/x`]);
    assert.equal(h2.exitCode, 0, h2.stderr);
    assert.equal(h2.httpVersion, '2');
    assert.equal(h2.status, 200);
    const a = JSON.parse(h2.body) as DemoAnswer;
    // The upstream gets HTTP/1.1 with the client's host and our headers.
    assert.equal(a.headers.host, `localhost:${h.gw.address('web').port}`);
    assert.equal(a.headers['x-forwarded-proto'], 'https');
    const h1 = await curl([...client(), '--http1.1', `${base}/x`]);
    assert.equal(h1.httpVersion, '1.1');
    assert.equal(h1.status, 200);
  });

  it('streams an HTTP/2 request body to the HTTP/1.1 upstream', async () => {
    const r = await curl([...client(), '--http2', '--data-binary', 'b'.repeat(70_000), `${base}/upload`]);
    assert.equal(r.httpVersion, '2');
    const a = JSON.parse(r.body) as DemoAnswer & { bodyBytes: number };
    assert.equal(a.method, 'POST');
    assert.equal(a.bodyBytes, 70_000);
  });

  it('routes by the uid in a verified client certificate', async () => {
    const r = await curl([...client(), `${base}/whoami`]);
    const a = JSON.parse(r.body) as DemoAnswer;
    // uid 4242 → shard 42 → rz04 (sh-1)
    assert.equal(a.uid, c.clientUid);
    assert.equal(a.zone, 'rz04');
  });

  it('refuses no cert, a cert from a foreign CA and a revoked cert before any request reaches an upstream', async () => {
    const before = hits();
    const none = await curl(['--cacert', c.ca, `${base}/x`]);
    const foreign = await curl([
      '--cacert',
      c.ca,
      '--cert',
      c.strangerCert,
      '--key',
      c.strangerKey,
      `${base}/x`,
    ]);
    const revoked = await curl([
      '--cacert',
      c.ca,
      '--cert',
      c.revokedCert,
      '--key',
      c.revokedKey,
      `${base}/x`,
    ]);
    for (const r of [none, foreign, revoked]) {
      assert.notEqual(r.exitCode, 0, `curl should fail: ${r.stderr}`);
      assert.equal(r.status, 0);
    }
    assert.equal(hits(), before);
  });
});
