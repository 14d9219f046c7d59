/**
 * Requests a hostile client shapes so that the upstream client or the upstream fails on them,
 * sent as raw bytes: each is answered by the gateway itself, never blames (ejects) the upstream,
 * never leaks a pool connection, and the zone serves a normal client right after. Also the
 * framing cases that must keep holding: CL/TE smuggling, pipelining, half-close, Expect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testCerts } from '../helpers/certs.js';
import {
  assertPoolFree,
  assertServed,
  dial,
  raw as rawPlain,
  startRig,
  statuses,
  withTls,
  type Rig,
} from './http-fixture.js';

const UID = 'x-ldc-uid: 1\r\n';

// Every case over plain HTTP and again over TLS (the HTTPS listener, HTTP/1.1 by ALPN): both
// are read by the same fast path first. A normal client checks the zone over plain HTTP.
for (const transport of ['plain', 'tls'] as const) {
  describe(`hostile HTTP/1.1 requests: refused by the gateway, no upstream blamed, no connection leaked (${transport})`, () => {
    let rig: Rig;
    let port: number;
    const raw: typeof rawPlain = (p, bytes, o = {}) => rawPlain(p, bytes, { ...o, tls: transport === 'tls' });
    before(async () => {
      rig =
        transport === 'plain'
          ? await startRig({ limits: { maxBodyBytes: 1000 } })
          : await startRig({ limits: { maxBodyBytes: 1000 }, listeners: withTls(await testCerts()) });
      port = rig.h.gw.address(transport === 'plain' ? 'web' : 'tls').port;
    });
    after(async () => {
      await rig.close();
    });

    const refused: [string, string][] = [
      ['duplicate Host', `GET /dup HTTP/1.1\r\nHost: a\r\nHost: b\r\n${UID}\r\n`],
      ['OPTIONS *', `OPTIONS * HTTP/1.1\r\nHost: a\r\n${UID}\r\n`],
      ['an HTTP/2.0 request line over HTTP/1', `GET /v2 HTTP/2.0\r\nHost: a\r\n${UID}\r\n`],
      ['an HTTP/1.1 request without Host', `GET /nohost HTTP/1.1\r\n${UID}\r\n`],
      ['an authority-form target', `GET a:80 HTTP/1.1\r\nHost: a\r\n${UID}\r\n`],
      ['CONNECT', `CONNECT internal.admin:443 HTTP/1.1\r\nHost: internal.admin:443\r\n${UID}\r\n`],
    ];
    for (const [name, bytes] of refused) {
      it(`answers ${name} with 400 and keeps the upstream pool whole`, async () => {
        const before = rig.rec.seen.length;
        for (let i = 0; i < 6; i++) {
          const reply = await raw(port, bytes);
          assert.match(reply, /^HTTP\/1\.1 400 /, `${name}: ${reply.slice(0, 80)}`);
          // Node's parser answers a Host-less HTTP/1.1 request itself, before the gateway sees it.
          if (!name.includes('without Host')) assert.match(reply, /x-ldc-reason: ZG_ERR_BAD_REQUEST/i);
        }
        assert.equal(rig.rec.seen.length, before, `${name} never reaches the upstream`);
        await assertServed(rig, name);
      });
    }

    it('answers Expect: 100-continue with 100 then the upstream answer; no 502, no leak', async () => {
      for (let i = 0; i < 6; i++) {
        const reply = await new Promise<string>((resolve) => {
          const head = `POST /expect HTTP/1.1\r\nHost: a\r\n${UID}Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`;
          const s = dial(transport, port, () => s.write(head));
          let buf = '';
          s.on('data', (d: Buffer) => {
            buf += d.toString('latin1');
            // The body goes only after the gateway said it wants it.
            if (buf.startsWith('HTTP/1.1 100 ') && buf.includes('\r\n\r\n') && !buf.includes('sent')) {
              buf += '[sent]';
              s.write('hello');
            }
          });
          s.on('close', () => resolve(buf));
          s.on('error', () => resolve(buf));
        });
        assert.deepEqual(statuses(reply), [100, 200], reply.slice(0, 200));
        assert.match(reply, /"bodyBytes":5/);
      }
      const last = rig.rec.seen.at(-1)!;
      assert.equal(last.headers.expect, undefined, 'Expect is the gateway’s, not forwarded');
      await assertServed(rig, 'Expect: 100-continue');
    });

    it('answers 413 to an oversized body announced with Expect, without a 100 first', async () => {
      const reply = await raw(
        port,
        `POST /big HTTP/1.1\r\nHost: a\r\n${UID}Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n`,
      );
      assert.deepEqual(statuses(reply), [413]);
    });

    it('routes an absolute-form target on its path and forwards it in origin form', async () => {
      const reply = await raw(
        port,
        `GET http://evil.example/global/x?q=1 HTTP/1.1\r\nHost: other\r\n${UID}Connection: close\r\n\r\n`,
      );
      assert.deepEqual(statuses(reply), [200]);
      const last = rig.rec.seen.at(-1)!;
      assert.equal(last.url, '/global/x?q=1');
      assert.equal(last.headers['x-ldc-zone'], 'gz00', 'routed on the path: /global/ is the GZone');
      assert.equal(last.headers.host, 'evil.example', 'the target’s authority is the host (RFC 9112 §3.2.2)');
    });

    it('keeps Host when the client lists it in Connection, and sends exactly one', async () => {
      const reply = await raw(
        port,
        `GET /conn-host HTTP/1.1\r\nHost: keep.example\r\nConnection: host, close\r\n${UID}\r\n`,
      );
      assert.deepEqual(statuses(reply), [200]);
      const last = rig.rec.seen.at(-1)!;
      assert.equal(last.url, '/conn-host');
      assert.equal(last.headers.host, 'keep.example');
    });

    it('strips client-sent address headers and states the client address itself', async () => {
      const spoof =
        'Forwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nX-Client-IP: 6.6.6.6\r\n' +
        'CF-Connecting-IP: 6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\nX-Cluster-Client-IP: 6.6.6.6\r\nFastly-Client-IP: 6.6.6.6\r\n';
      const reply = await raw(
        port,
        `GET /spoof HTTP/1.1\r\nHost: a\r\n${UID}${spoof}Connection: close\r\n\r\n`,
      );
      assert.deepEqual(statuses(reply), [200]);
      const h = rig.rec.seen.at(-1)!.headers;
      for (const name of [
        'forwarded',
        'x-real-ip',
        'true-client-ip',
        'x-client-ip',
        'cf-connecting-ip',
        'x-cluster-client-ip',
        'fastly-client-ip',
      ]) {
        assert.equal(h[name], undefined, `${name} is not forwarded`);
      }
      assert.equal(h['x-forwarded-for'], '127.0.0.1');
    });

    it('answers a request followed by FIN (half-close)', async () => {
      const reply = await raw(port, `GET /half HTTP/1.1\r\nHost: a\r\n${UID}\r\n`, { endAfter: true });
      assert.deepEqual(statuses(reply), [200]);
      assert.equal(rig.rec.seen.at(-1)!.url, '/half');
    });

    it('answers a Connection: close request even when bytes follow it', async () => {
      const before = rig.rec.seen.length;
      const reply = await raw(
        port,
        `GET /closing HTTP/1.1\r\nHost: a\r\n${UID}Connection: close\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n`,
      );
      assert.deepEqual(statuses(reply), [200], reply.slice(0, 120));
      assert.deepEqual(
        rig.rec.seen.slice(before).map((s) => s.url),
        ['/closing'],
        'the bytes after Connection: close are never executed',
      );
    });

    it('answers pipelined requests in order, each executed once', async () => {
      const before = rig.rec.seen.length;
      const one = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: a\r\n${UID}\r\n`;
      const reply = await raw(
        port,
        one('/p1') + one('/p2') + one('/p3').replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'),
      );
      assert.deepEqual(statuses(reply), [200, 200, 200]);
      assert.deepEqual(
        [...reply.matchAll(/"path":"(\/p\d)"/g)].map((m) => m[1]),
        ['/p1', '/p2', '/p3'],
      );
      assert.deepEqual(
        rig.rec.seen
          .slice(before)
          .map((s) => s.url)
          .sort(),
        ['/p1', '/p2', '/p3'],
      );
    });

    // Request smuggling: the gateway must never let the upstream see a second request the
    // gateway did not route (these held before; they stay in the suite so they keep holding).
    const smuggling: [string, string][] = [
      [
        'CL and TE together',
        `POST /s HTTP/1.1\r\nHost: a\r\n${UID}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n`,
      ],
      [
        'two Content-Lengths',
        `POST /s HTTP/1.1\r\nHost: a\r\n${UID}Content-Length: 0\r\nContent-Length: 44\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n`,
      ],
      [
        'TE with a space before the colon',
        `POST /s HTTP/1.1\r\nHost: a\r\n${UID}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\n\r\n`,
      ],
      [
        'obfuscated TE',
        `POST /s HTTP/1.1\r\nHost: a\r\n${UID}Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\n\r\n`,
      ],
      [
        'a bare LF chunk size',
        `POST /s HTTP/1.1\r\nHost: a\r\n${UID}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\n\r\n`,
      ],
      [
        'a chunk extension with a bare CR',
        `POST /s HTTP/1.1\r\nHost: a\r\n${UID}Transfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\n\r\n`,
      ],
    ];
    for (const [name, bytes] of smuggling) {
      it(`smuggles nothing with ${name}`, async () => {
        const reply = await raw(port, bytes, { waitMs: 1500 });
        assert.ok(!rig.rec.seen.some((s) => s.url.includes('SMUGGLED')), `${name}: ${reply.slice(0, 120)}`);
        for (const s of rig.rec.seen) assert.ok(s.headers['x-ldc-zone'] !== undefined);
      });
    }

    it('still serves the zone after every case above', async () => {
      await assertServed(rig, 'after the malformed suite');
      await assertPoolFree(rig, 'after the malformed suite');
    });
  });
}
