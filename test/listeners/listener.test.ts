import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ListenerConfig, TlsConfig } from '../../src/core/config.js';
import {
  createListener,
  encodeProxyHeader,
  type Listener,
  type ListenerEvent,
} from '../../src/listeners/index.js';
import { createCrl } from '../../src/certs/index.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import { waitFor, within } from '../helpers/wait.js';

/** A listener whose stage writes back what it learned about the connection, then echoes. */
async function echoListener(
  cfg: Partial<ListenerConfig>,
  events: ListenerEvent[] = [],
): Promise<{ l: Listener; port: number }> {
  const l = createListener(
    {
      name: 'test',
      protocol: 'https',
      port: 0,
      host: '127.0.0.1',
      proxyProtocol: false,
      backlog: 511,
      trustedProxies: ['127.0.0.1'],
      ...cfg,
    },
    {
      tlsHandshakeTimeoutMs: 2000,
      proxyProtocolTimeoutMs: 300,
      maxConnections: 100,
      maxPendingConnections: 100,
      alpn: ['h2', 'http/1.1'],
      onEvent: (e) => events.push(e),
      onConnection: (socket, info) => {
        const tls = socket as TLSSocket;
        socket.write(
          JSON.stringify({
            remote: `${info.remoteAddress}:${info.remotePort}`,
            proxied: info.proxied,
            secure: info.secure,
            alpn: typeof tls.alpnProtocol === 'string' ? tls.alpnProtocol : null,
            cn: info.secure
              ? (tls.getCertificate() as { subject?: { CN?: string } } | null)?.subject?.CN
              : null,
          }) + '\n',
        );
        socket.pipe(socket);
      },
    },
  );
  const addr = await l.start();
  return { l, port: addr.port };
}

function tlsBase(c: TestCerts): TlsConfig {
  return {
    cert: c.serverCert,
    key: c.serverKey,
    extraCerts: [],
    requestCert: false,
    clientCertOptional: false,
    minVersion: 'TLSv1.2',
    sni: [],
    ciphers: 'DEFAULT',
    ecdhCurve: 'auto',
    watch: false,
    watchIntervalMs: 100,
  };
}

/** Connect with TLS and read the first line; rejects when the server refuses us. */
function tlsHello(port: number, opts: ConnectionOptions): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ...opts });
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        s.destroy();
        resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error('closed before any answer')));
  });
}

function rawHello(port: number, first: Buffer): Promise<string | null> {
  return new Promise((resolve) => {
    const s: Socket = netConnect(port, '127.0.0.1', () => s.write(first));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) {
        s.destroy();
        resolve(buf.slice(0, buf.indexOf('\n')));
      }
    });
    s.on('error', () => resolve(null));
    s.on('close', () => resolve(buf === '' ? null : buf));
  });
}

describe('listener', () => {
  let certs: TestCerts;
  const open: Listener[] = [];
  before(async () => {
    certs = await testCerts();
  });
  after(async () => {
    for (const l of open) {
      l.destroyConnections();
      await l.stopAccepting();
    }
  });

  it('mTLS accepts a good client cert and refuses none, a foreign CA and a revoked one', async () => {
    const events: ListenerEvent[] = [];
    const { l, port } = await echoListener(
      { tls: { ...tlsBase(certs), ca: certs.ca, crl: certs.crl, requestCert: true } },
      events,
    );
    open.push(l);
    const ca = await readFile(certs.ca);
    const good = await tlsHello(port, {
      ca,
      cert: await readFile(certs.clientCert),
      key: await readFile(certs.clientKey),
      servername: 'localhost',
    });
    assert.equal(good.secure, true);
    await assert.rejects(tlsHello(port, { ca, servername: 'localhost' }));
    await assert.rejects(
      tlsHello(port, {
        ca,
        cert: await readFile(certs.strangerCert),
        key: await readFile(certs.strangerKey),
        servername: 'localhost',
      }),
    );
    await assert.rejects(
      tlsHello(port, {
        ca,
        cert: await readFile(certs.revokedCert),
        key: await readFile(certs.revokedKey),
        servername: 'localhost',
      }),
    );
  });

  it('applies a new CRL on reload: a client revoked after start is refused from then on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zg-crl-'));
    const crl = join(dir, 'crl.pem');
    await copyFile(certs.crl, crl);
    const { l, port } = await echoListener({
      tls: { ...tlsBase(certs), ca: certs.ca, crl, requestCert: true },
    });
    open.push(l);
    const opts = {
      ca: await readFile(certs.ca),
      cert: await readFile(certs.clientCert),
      key: await readFile(certs.clientKey),
      servername: 'localhost',
    };
    assert.equal((await tlsHello(port, opts)).secure, true);
    await writeFile(crl, await createCrl(certs.authority, [certs.revokedSerial, certs.clientSerial]));
    await l.reloadTls();
    await assert.rejects(tlsHello(port, opts));
  });

  it('negotiates ALPN h2 and serves the SNI certificate for its name', async () => {
    const { l, port } = await echoListener({
      tls: {
        ...tlsBase(certs),
        sni: [{ servername: 'other.test', cert: certs.otherCert, key: certs.otherKey }],
      },
    });
    open.push(l);
    const ca = await readFile(certs.ca);
    const h2 = await tlsHello(port, { ca, servername: 'localhost', ALPNProtocols: ['h2'] });
    assert.equal(h2.alpn, 'h2');
    assert.equal(h2.cn, 'localhost');
    const other = await tlsHello(port, { ca, servername: 'other.test', ALPNProtocols: ['http/1.1'] });
    assert.equal(other.cn, 'other.test');
    assert.equal(other.alpn, 'http/1.1');
  });

  it('serves a certificate swapped on disk to new handshakes without a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zg-swap-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await copyFile(certs.serverCert, cert);
    await copyFile(certs.serverKey, key);
    const events: ListenerEvent[] = [];
    const { l, port } = await echoListener(
      { tls: { ...tlsBase(certs), cert, key, watch: true, watchIntervalMs: 50 } },
      events,
    );
    open.push(l);
    const ca = await readFile(certs.ca);
    // A connection opened before the swap must survive it.
    const before = tlsConnect({ port, host: '127.0.0.1', ca, servername: 'localhost' });
    await new Promise((r) => before.once('secureConnect', r));
    assert.equal((before.getPeerCertificate().subject as { CN?: string }).CN, 'localhost');
    await copyFile(certs.otherCert, cert);
    await copyFile(certs.otherKey, key);
    await waitFor('the tls-reloaded event', () => events.some((e) => e.type === 'tls-reloaded'));
    const after = await tlsHello(port, { ca, servername: 'localhost' });
    assert.equal(after.cn, 'other.test');
    assert.equal(before.destroyed, false);
    before.destroy();
  });

  it('resumes a session with a listener that shares the ticket key file (a fleet)', async () => {
    const tls = { ...tlsBase(certs), sessionTicketKeyFile: certs.ticketKeys };
    const a = await echoListener({ tls });
    const b = await echoListener({ tls });
    open.push(a.l, b.l);
    const ca = await readFile(certs.ca);
    const session = await new Promise<Buffer>((resolve, reject) => {
      // TLS 1.2 so the ticket is issued in the handshake itself.
      const s = tlsConnect({
        port: a.port,
        host: '127.0.0.1',
        ca,
        servername: 'localhost',
        maxVersion: 'TLSv1.2',
      });
      s.once('session', (sess: Buffer) => {
        s.destroy();
        resolve(sess);
      });
      s.on('error', reject);
    });
    const resumed = await new Promise<boolean>((resolve, reject) => {
      const s = tlsConnect({
        port: b.port,
        host: '127.0.0.1',
        ca,
        servername: 'localhost',
        session,
        maxVersion: 'TLSv1.2',
      });
      s.once('secureConnect', () => {
        resolve(s.isSessionReused());
        s.destroy();
      });
      s.on('error', reject);
    });
    assert.equal(resumed, true);
  });

  it('takes the client address from PROXY v1 and v2 headers and closes on a malformed one', async () => {
    const events: ListenerEvent[] = [];
    const { l, port } = await echoListener({ protocol: 'http', proxyProtocol: true }, events);
    open.push(l);
    const v1 = await rawHello(
      port,
      Buffer.concat([
        encodeProxyHeader(1, { address: '203.0.113.7', port: 5555 }, { address: '10.0.0.1', port: 80 }),
      ]),
    );
    assert.deepEqual(JSON.parse(v1 ?? 'null'), {
      remote: '203.0.113.7:5555',
      proxied: true,
      secure: false,
      alpn: null,
      cn: null,
    });
    const v2 = await rawHello(
      port,
      encodeProxyHeader(2, { address: '2001:db8::9', port: 443 }, { address: '2001:db8::1', port: 80 }),
    );
    assert.equal((JSON.parse(v2 ?? 'null') as { remote: string }).remote, '2001:db8::9:443');
    assert.equal(await rawHello(port, Buffer.from('GET / HTTP/1.1\r\n\r\n')), null);
    assert.equal(await rawHello(port, Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n')), null);
    assert.ok(events.filter((e) => e.type === 'proxy-error').length >= 2);
  });

  it('reads the PROXY header before the TLS handshake (LVS in front of an https listener)', async () => {
    const { l, port } = await echoListener({ proxyProtocol: true, tls: tlsBase(certs) });
    open.push(l);
    const ca = await readFile(certs.ca);
    const raw = netConnect(port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    raw.write(
      encodeProxyHeader(2, { address: '192.0.2.44', port: 4444 }, { address: '10.0.0.1', port: 443 }),
    );
    const hello = await tlsHello(port, { socket: raw, ca, servername: 'localhost' });
    assert.equal(hello.remote, '192.0.2.44:4444');
    assert.equal(hello.secure, true);
  });

  it('closes a connection that never sends its PROXY header', async () => {
    const { l, port } = await echoListener({ protocol: 'http', proxyProtocol: true });
    open.push(l);
    // Closed by the header timeout; a listener that waited forever fails here with a reason.
    assert.equal(
      await within('the connection to be closed', rawHello(port, Buffer.from('PROXY TCP4'))),
      null,
    );
  });

  it('speaks TLS to openssl s_client, with the ECDSA or RSA cert as the client prefers', async () => {
    const { l, port } = await echoListener({
      tls: { ...tlsBase(certs), extraCerts: [{ cert: certs.serverRsaCert, key: certs.serverRsaKey }] },
    });
    open.push(l);
    const run = (sigalgs: string): Promise<string> =>
      new Promise((resolve) => {
        const p = spawn(
          'openssl',
          [
            's_client',
            '-connect',
            `127.0.0.1:${port}`,
            '-CAfile',
            certs.ca,
            '-servername',
            'localhost',
            '-sigalgs',
            sigalgs,
            '-tls1_2',
          ],
          {
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        );
        let out = '';
        // Hang up once the handshake's summary is out; a failed handshake ends s_client itself.
        const read = (d: Buffer): void => {
          out += d.toString();
          if (/Verify return code/.test(out)) p.stdin.end();
        };
        p.stdout.on('data', read);
        p.stderr.on('data', read);
        p.on('close', () => resolve(out));
      });
    const ec = await run('ECDSA+SHA256');
    assert.match(ec, /Verify return code: 0 \(ok\)/);
    assert.match(ec, /Peer signature type: ECDSA/);
    const rsa = await run('RSA+SHA256');
    assert.match(rsa, /Verify return code: 0 \(ok\)/);
    assert.match(rsa, /Peer signature type: RSA/);
  });
});
