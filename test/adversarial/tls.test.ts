/**
 * Attacks on the TLS edge: silent sockets that never start a handshake, handshakes that never
 * finish, legacy CBC suites, and a revoked client certificate coming back through session
 * resumption. Each case then checks that a normal client is served.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { createCrl, issueCert } from '../../src/certs/index.js';
import type { DemoAnswer, DemoUpstreams } from '../../src/gateway/demo-upstreams.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';
import { curl } from '../helpers/http-client.js';
import {
  closedWithin,
  demoUpstreams,
  exchange,
  httpGet,
  rawConnect,
  rawConnections,
  startEdge,
  until,
} from './edge-fixture.js';

let ups: DemoUpstreams;
let c: TestCerts;
before(async () => {
  ups = await demoUpstreams();
  c = await testCerts();
});
after(async () => {
  await ups.close();
});

function https(
  name: string,
  tls: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): unknown {
  return {
    name,
    protocol: 'https',
    port: 0,
    host: '127.0.0.1',
    tls: { cert: c.serverCert, key: c.serverKey, watch: false, ...tls },
    ...extra,
  };
}

/** GET /whoami over an open TLS socket; the demo upstream's JSON answer, or null when refused. */
async function whoami(s: TLSSocket, headers: Record<string, string> = {}): Promise<DemoAnswer | null> {
  const a = await exchange(s, httpGet('/whoami', headers, true));
  const i = a.text.indexOf('\r\n\r\n');
  if (!a.text.startsWith('HTTP/1.1 200') || i < 0) return null;
  return JSON.parse(a.text.slice(i + 4)) as DemoAnswer;
}

function assertOpen(s: TLSSocket | Error): asserts s is TLSSocket {
  if (s instanceof Error) assert.fail(`TLS handshake failed: ${s.message}`);
}

// TLS 1.2 hands its ticket over inside the handshake, TLS 1.3 after it: listen from the start.
const sessions = new WeakMap<TLSSocket, Promise<Buffer>>();

function tlsOpen(port: number, opts: ConnectionOptions): Promise<TLSSocket | Error> {
  return new Promise((resolve) => {
    const s = tlsConnect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: c.caPem,
      ALPNProtocols: ['http/1.1'],
      ...opts,
    });
    sessions.set(s, new Promise<Buffer>((r) => s.once('session', r)));
    s.once('secureConnect', () => resolve(s));
    s.once('error', (err: Error) => resolve(err));
  });
}

describe('adversarial: TLS handshakes', () => {
  it('closes TCP connections that never start a handshake, so they cannot hold every slot', async () => {
    const edge = await startEdge(ups, {
      listeners: [https('web')],
      // Every slot of the listener taken by silent sockets, as an attacker would.
      limits: { maxConnections: 12 },
      timeouts: { tlsHandshakeTimeoutMs: 200 },
    });
    try {
      const port = edge.port('web');
      const silent = await rawConnections(12, port);
      await Promise.all(silent.map((s) => closedWithin(s, 8000, 'a silent connection')));
      const r = await curl(['--cacert', c.ca, '-H', 'x-ldc-uid: 4242', `https://localhost:${port}/whoami`]);
      assert.equal(r.status, 200, r.stderr);
      assert.equal((JSON.parse(r.body) as DemoAnswer).zone, 'rz04');
      assert.ok(edge.events.some((e) => e.type === 'tls-error' && e.code === 'ERR_TLS_HANDSHAKE_TIMEOUT'));
    } finally {
      await edge.close();
    }
  });

  it('closes a handshake that starts and stalls (half a ClientHello) the same way', async () => {
    const edge = await startEdge(ups, {
      listeners: [https('web')],
      timeouts: { tlsHandshakeTimeoutMs: 200 },
    });
    try {
      const s = await rawConnect(edge.port('web'));
      // A TLS record header announcing 512 bytes, then nothing more.
      s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
      await closedWithin(s, 8000, 'a stalled handshake');
    } finally {
      await edge.close();
    }
  });

  it('serves real clients while more silent sockets than maxPendingConnections wait (the oldest are closed)', async () => {
    const edge = await startEdge(ups, {
      listeners: [https('web')],
      // The handshake timeout alone would take 30 s to free anything.
      limits: { maxConnections: 100, maxPendingConnections: 8 },
      timeouts: { tlsHandshakeTimeoutMs: 30_000 },
    });
    try {
      const port = edge.port('web');
      const silent = await rawConnections(8, port);
      await until(
        () => edge.gw.listeners[0]!.connectionCount() === 8,
        5000,
        'the gateway counting 8 silent sockets',
      );
      for (let i = 0; i < 3; i++) {
        const r = await curl(['--cacert', c.ca, '-H', 'x-ldc-uid: 4242', `https://localhost:${port}/whoami`]);
        assert.equal(r.status, 200, r.stderr);
      }
      await closedWithin(silent[0]!, 5000, 'the oldest silent socket');
      const text = await edge.metricsText();
      assert.match(
        text,
        /zonegate_connections_refused_total\{protocol="https",reason="pending-evicted"\} [1-9]/,
      );
      for (const s of silent) s.destroy();
    } finally {
      await edge.close();
    }
  });

  it('closes silent sockets on an mqtts listener too, and still completes handshakes', async () => {
    const edge = await startEdge(ups, {
      listeners: [
        {
          name: 'mq',
          protocol: 'mqtts',
          port: 0,
          host: '127.0.0.1',
          tls: { cert: c.serverCert, key: c.serverKey, watch: false },
        },
      ],
      timeouts: { tlsHandshakeTimeoutMs: 200 },
    });
    try {
      const port = edge.port('mq');
      const silent = await rawConnections(5, port);
      await Promise.all(silent.map((s) => closedWithin(s, 8000, 'a silent mqtts connection')));
      const s = await tlsOpen(port, { ALPNProtocols: [] });
      assertOpen(s);
      s.destroy();
    } finally {
      await edge.close();
    }
  });
});

describe('adversarial: TLS suites', () => {
  it('refuses TLS 1.2 CBC suites by default and serves AEAD suites and TLS 1.3', async () => {
    const edge = await startEdge(ups, { listeners: [https('web')] });
    try {
      const port = edge.port('web');
      const cbc = await tlsOpen(port, {
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256',
      });
      assert.ok(cbc instanceof Error, 'a CBC-only client must not get a session');
      // openssl s_client as an outside client: the same refusal.
      const sclient = await new Promise<string>((resolve) => {
        const p = spawn(
          'openssl',
          ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'],
          {
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        );
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        p.stdin.end();
        p.on('close', () => resolve(out));
      });
      assert.match(sclient, /handshake failure|no cipher|Cipher is \(NONE\)|alert/i);
      const gcm = await tlsOpen(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
      assertOpen(gcm);
      assert.equal((await whoami(gcm, { 'x-ldc-uid': '4242' }))?.zone, 'rz04');
      const t13 = await tlsOpen(port, {});
      assertOpen(t13);
      assert.equal(t13.getProtocol(), 'TLSv1.3');
      t13.destroy();
    } finally {
      await edge.close();
    }
  });

  it('takes a per-listener cipher list and sends HSTS when configured', async () => {
    const edge = await startEdge(ups, {
      listeners: [
        https(
          'legacy',
          { ciphers: 'ECDHE-ECDSA-AES128-SHA:TLS_AES_128_GCM_SHA256' },
          { hsts: { maxAgeSec: 600, includeSubDomains: true } },
        ),
      ],
    });
    try {
      const port = edge.port('legacy');
      const cbc = await tlsOpen(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' });
      assertOpen(cbc);
      cbc.destroy();
      const ok = await curl(['--cacert', c.ca, '-H', 'x-ldc-uid: 4242', `https://localhost:${port}/whoami`]);
      assert.equal(ok.headers['strict-transport-security'], 'max-age=600; includeSubDomains');
      // The gateway's own answers carry it too (an unknown path prefix is still routed; a bad uid is not).
      const h2 = await curl(['--http2', '--cacert', c.ca, `https://localhost:${port}/whoami`]);
      assert.equal(h2.headers['strict-transport-security'], 'max-age=600; includeSubDomains');
    } finally {
      await edge.close();
    }
  });
});

describe('adversarial: a revoked client certificate and session resumption', () => {
  for (const variant of [
    { name: 'TLS 1.3 tickets, fleet ticket key file', maxVersion: 'TLSv1.3' as const, keyFile: true },
    { name: 'TLS 1.2 tickets, fleet ticket key file', maxVersion: 'TLSv1.2' as const, keyFile: true },
    { name: 'TLS 1.3 tickets, per-process keys', maxVersion: 'TLSv1.3' as const, keyFile: false },
  ]) {
    it(`refuses the session after the CRL revokes its certificate (${variant.name})`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'zg-resume-'));
      const crl = join(dir, 'crl.pem');
      await copyFile(c.crl, crl);
      // Its own client: revoking it must not disturb the shared test certificates.
      const victim = await issueCert(c.authority, { commonName: '5042', uid: '5042', usage: 'client' });
      const normal = await issueCert(c.authority, { commonName: '6042', uid: '6042', usage: 'client' });
      const edge = await startEdge(ups, {
        listeners: [
          https('web', {
            ca: c.ca,
            crl,
            requestCert: true,
            ...(variant.keyFile ? { sessionTicketKeyFile: c.ticketKeys } : {}),
          }),
        ],
        identity: { certUid: { from: 'san-uri', pattern: '^urn:zonegate:uid:(.+)$' } },
      });
      try {
        const port = edge.port('web');
        const base = { maxVersion: variant.maxVersion, cert: victim.certPem, key: victim.keyPem };
        const first = await tlsOpen(port, base);
        assertOpen(first);
        const a = await whoami(first);
        assert.equal(a?.uid, '5042');
        const ticket = await sessions.get(first)!;
        // A resumption before any change works (so the refusal below is about the CRL).
        const again = await tlsOpen(port, { ...base, session: ticket });
        assertOpen(again);
        assert.equal(again.isSessionReused(), true);
        assert.equal((await whoami(again))?.uid, '5042');

        await writeFile(crl, await createCrl(c.authority, [c.revokedSerial, victim.serialNumber]));
        await edge.gw.reload();
        const resumed = await tlsOpen(port, { ...base, session: ticket });
        const answer = resumed instanceof Error ? null : await whoami(resumed);
        assert.equal(
          answer,
          null,
          `a revoked certificate was served through a resumed session: ${JSON.stringify(answer)}`,
        );
        // A full handshake with it is refused as before.
        const fresh = await tlsOpen(port, { ...base });
        assert.equal(fresh instanceof Error ? null : await whoami(fresh), null);
        // Another client of the same zone (shard 42 → rz04) is served right after.
        const ok = await tlsOpen(port, {
          maxVersion: variant.maxVersion,
          cert: normal.certPem,
          key: normal.keyPem,
        });
        assertOpen(ok);
        const n = await whoami(ok);
        assert.equal(n?.uid, '6042');
        assert.equal(n?.zone, 'rz04');
      } finally {
        await edge.close();
      }
    });
  }
});
