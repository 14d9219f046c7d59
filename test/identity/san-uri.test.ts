/**
 * A uid in a client certificate's SAN URI is percent-encoded UTF-8 (URIs are ASCII): the
 * certificate tool writes it that way and the gateway's reader, over a real mTLS handshake,
 * gives back the exact uid — the one `zonegate route` hashes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { issueCert, uidUri } from '../../src/certs/index.js';
import { certUidReader } from '../../src/identity/index.js';
import { testCerts, type TestCerts } from '../helpers/certs.js';

describe('a uid in a SAN URI', () => {
  let certs: TestCerts;
  let server: Server;
  const read = certUidReader({ from: 'san-uri', pattern: '^urn:zonegate:uid:(.+)$' }, null);
  const seen: (string | null)[] = [];

  before(async () => {
    certs = await testCerts();
    server = createServer(
      {
        cert: readFileSync(certs.serverCert),
        key: readFileSync(certs.serverKey),
        ca: readFileSync(certs.ca),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket: TLSSocket) => {
        seen.push(read?.(socket) ?? null);
        socket.end('ok');
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const uid of ['用户甲', 'José', 'a:b@c', '50%#?']) {
    it(`${uid}: written ASCII-only, read back exactly over mTLS`, async () => {
      const c = await issueCert(certs.authority, { commonName: 'client', uid, usage: 'client' });
      const san = new X509Certificate(c.certPem).subjectAltName ?? '';
      assert.ok(san.includes(`URI:${uidUri(uid)}`), san);
      assert.match(uidUri(uid), /^[\x21-\x7e]+$/, 'a URI is printable ASCII');
      const socket = connect({
        port: (server.address() as AddressInfo).port,
        host: '127.0.0.1',
        ca: readFileSync(certs.ca),
        cert: c.certPem,
        key: c.keyPem,
        servername: 'localhost',
      });
      socket.on('data', () => undefined);
      await once(socket, 'end');
      socket.destroy();
      assert.equal(seen.at(-1), uid);
    });
  }
});
