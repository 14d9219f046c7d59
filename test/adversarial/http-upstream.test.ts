/**
 * Hostile or broken upstreams behind the raw upstream connections that carry every request
 * without a body (src/http/upstream-call.ts), reached by the HTTP/1.1 fast path and by h2
 * clients through Node's path (curl for both): responses that could be read two ways, bytes after a
 * response (a desync attempt on a reused connection), heads too large or too slow, bodies cut
 * short, interim and protocol-switching answers, and a keep-alive connection the upstream
 * closes as the next request arrives. The client gets a clear answer (502 / 504 with the
 * reason, or a cut response once the head is out), the connection the upstream spoiled is
 * never used again, and the next request is served.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { testCerts } from '../helpers/certs.js';
import { curl } from '../helpers/http-client.js';
import { busOf, startHarness, type Harness } from '../http/harness.js';
import { until, withTls } from './http-fixture.js';

const OK_BODY = '{"ok":true}';

function ok(s: Socket, extra = ''): void {
  s.write(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${OK_BODY.length}\r\n${extra}\r\n${OK_BODY}`,
  );
}

/** Upstream connections whose answer waits for its body (`/held-body*`), oldest first. */
const held: Socket[] = [];

/** Per request path, what the upstream answers; `nth` counts this path's requests on this connection from 1. */
const BEHAVIOUR: Record<string, (s: Socket, nth: number) => void> = {
  '/ok': (s) => ok(s),
  '/cl-te': (s) =>
    s.write(
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    ),
  '/two-lengths': (s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nhello!!'),
  // A response followed by a second, unrequested one: read as the next request's answer it
  // would hand one user another's response.
  '/extra': (s) =>
    s.write(
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled',
    ),
  '/body-on-204': (s) =>
    s.write('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled'),
  '/huge-head': (s) =>
    s.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(40_000)}\r\ncontent-length: 0\r\n\r\n`),
  '/folded': (s) => s.write('HTTP/1.1 200 OK\r\nx-a: 1\r\n folded\r\ncontent-length: 0\r\n\r\n'),
  '/bad-chunk': (s) =>
    s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx\r\n'),
  '/short-body': (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part of it'),
  '/reset': (s) => s.destroy(),
  '/switch': (s) =>
    s.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n'),
  '/interim': (s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n');
    ok(s);
  },
  // A field meant for the gateway's connection only (RFC 9110 §7.6.1), e.g. internal routing.
  '/conn-named': (s) =>
    ok(s, 'connection: keep-alive, x-internal-route\r\nx-internal-route: rz00-backend-7\r\nx-kept: 1\r\n'),
  '/interim-flood': (s) => s.write('HTTP/1.1 100 Continue\r\n\r\n'.repeat(40)),
  // The head in pieces that split its lines (and its status line), each written once the
  // previous one is out.
  '/in-pieces': (s) => {
    const pieces = ['HTTP/1.1 2', '00 OK\r\ncontent-le', `ngth: ${OK_BODY.length}\r`, '\n\r\n', OK_BODY];
    const next = (): void => {
      const p = pieces.shift();
      if (p !== undefined && !s.destroyed) s.write(p, () => setImmediate(next));
    };
    next();
  },
  '/chunked': (s) =>
    s.write(
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\npart\r\n4\r\n one\r\n0\r\ntrailer-x: 1\r\n\r\n',
    ),
  // One byte of the head every 150 ms: never silent for long, never done in time.
  '/trickle': (s) => {
    const head =
      'HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n';
    let i = 0;
    const t = setInterval(() => {
      if (s.destroyed || i >= head.length) clearInterval(t);
      else s.write(head[i++]!);
    }, 150);
    s.on('close', () => clearInterval(t));
  },
  // The head now, the body only when the test releases it (a long poll, a stream): the client
  // must get the head while the body does not exist yet. The second one also makes the gateway
  // sign a cookie before its head leaves.
  '/held-body': (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n');
    held.push(s);
  },
  '/held-body-uid': (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-ldc-uid: 42\r\n\r\n');
    held.push(s);
  },
  // Answers the first request of a connection, then closes the connection when the next one
  // arrives, without a byte: what an upstream whose keep-alive timeout races our request does.
  '/racy': (s, nth) => (nth === 1 ? ok(s) : s.destroy()),
};

interface Upstream {
  server: Server;
  address: string;
  /** Requests seen by path. */
  seen: Map<string, number>;
  /** The connection that carried the last request for a path. */
  carrier: Map<string, Socket>;
}

async function startUpstream(): Promise<Upstream> {
  const u: Upstream = { server: null as unknown as Server, address: '', seen: new Map(), carrier: new Map() };
  u.server = createServer((s) => {
    s.on('error', () => {});
    let buf = '';
    const nth = new Map<string, number>();
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buf += d;
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const line = buf.slice(0, buf.indexOf('\r\n'));
        buf = buf.slice(end + 4);
        const path = line.split(' ')[1] ?? '/';
        nth.set(path, (nth.get(path) ?? 0) + 1);
        u.seen.set(path, (u.seen.get(path) ?? 0) + 1);
        u.carrier.set(path, s);
        (BEHAVIOUR[path] ?? BEHAVIOUR['/ok']!)(s, nth.get(path)!);
      }
    });
  });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', r));
  u.address = `127.0.0.1:${(u.server.address() as AddressInfo).port}`;
  return u;
}

for (const transport of ['h1', 'h2'] as const)
  describe(`hostile and broken upstreams (${transport === 'h1' ? 'HTTP/1.1 fast path' : 'h2 client, Node’s path'})`, () => {
    let up: Upstream;
    let h: Harness;
    let base: string;
    /** The upstream error codes the gateway published (metrics and logs see these). */
    const codes: string[] = [];

    before(async () => {
      up = await startUpstream();
      h = await startHarness({
        config: {
          listeners: withTls(await testCerts()),
          upstream: {
            healthCheck: { enabled: false },
            // Never eject here: each case must reach the same upstream.
            ejection: { consecutiveFailures: 1000, ejectMs: 1000 },
          },
          timeouts: { upstreamResponseTimeoutMs: 1000, shutdownGraceMs: 100 },
        },
        events: busOf((b) => b.upstreamError.subscribe((e) => codes.push(e.code))),
        change: (d) => {
          for (const z of Object.values(d.zones))
            z.upstreams = { ...z.upstreams, http: { blue: [up.address], green: [up.address] } };
        },
      });
      base = transport === 'h1' ? h.url : `https://127.0.0.1:${h.gw.address('tls').port}`;
    });
    after(async () => {
      await h.close();
      await new Promise((r) => up.server.close(r));
    });

    const get = (path: string, ...args: string[]) =>
      curl([
        '-H',
        'x-ldc-uid: 7',
        ...(transport === 'h2' ? ['--http2', '-k'] : []),
        ...args,
        `${base}${path}`,
      ]);

    /** The gateway closed the upstream connection that carried `path`, and a normal request is served. */
    async function spoiltConnectionDropped(path: string): Promise<void> {
      const s = up.carrier.get(path);
      assert.ok(s !== undefined, `${path} reached the upstream`);
      assert.ok(await until(() => s.closed), `${path}: the spoiled upstream connection was closed`);
      const r = await get('/ok');
      assert.equal(r.status, 200, `${path}: the next request is served`);
      assert.equal(r.body, OK_BODY, `${path}: with its own answer`);
    }

    for (const [path, why, code] of [
      ['/cl-te', 'Content-Length and Transfer-Encoding', 'BAD_RESPONSE'],
      ['/two-lengths', 'two Content-Lengths', 'BAD_RESPONSE'],
      ['/huge-head', 'a head over the limit', 'BAD_RESPONSE'],
      ['/folded', 'an obs-folded field', 'BAD_RESPONSE'],
      ['/switch', '101 to a request without Upgrade', 'BAD_RESPONSE'],
      ['/interim-flood', 'an endless run of 100 Continue', 'BAD_RESPONSE'],
      ['/reset', 'a close before any byte', 'UND_ERR_SOCKET'],
    ] as const) {
      it(`answers 502 with the reason to ${why}, and drops that connection`, async () => {
        const r = await get(path);
        assert.equal(r.status, 502, `${path}: ${r.body}`);
        assert.equal(r.headers['x-ldc-reason'], 'ZG_ERR_UPSTREAM_FAILED');
        assert.match(r.body, /upstream/);
        // Counted against the upstream, by a code metrics and alerts know.
        assert.equal(codes.at(-1), code);
        await spoiltConnectionDropped(path);
      });
    }

    it('never hands the bytes after a response to the next request (no desync)', async () => {
      for (const path of ['/extra', '/body-on-204']) {
        const r = await get(path);
        assert.equal(r.status, path === '/extra' ? 200 : 204);
        assert.equal(r.body, path === '/extra' ? 'hello' : '');
        await spoiltConnectionDropped(path);
      }
      // Many requests after: not one gets the smuggled answer.
      const many = await Promise.all(Array.from({ length: 8 }, () => get('/ok')));
      for (const m of many) assert.equal(m.body, OK_BODY);
    });

    it('cuts the response when the body breaks after its head went out', async () => {
      for (const path of ['/bad-chunk', '/short-body']) {
        const r = await get(path);
        assert.equal(r.status, 200, path);
        // curl: 18 (partial file), 56 (receive failure) or 92 (h2 stream reset): the client sees
        // it incomplete.
        assert.ok([18, 56, 92].includes(r.exitCode), `${path}: curl exit ${r.exitCode}`);
        await spoiltConnectionDropped(path);
      }
    });

    it('answers 504 to a head that trickles in past upstreamResponseTimeoutMs', async () => {
      const r = await get('/trickle');
      assert.equal(codes.at(-1), 'UND_ERR_HEADERS_TIMEOUT');
      assert.equal(r.status, 504);
      assert.equal(r.headers['x-ldc-reason'], 'ZG_ERR_UPSTREAM_TIMEOUT');
      await spoiltConnectionDropped('/trickle');
    });

    it('drops the fields the upstream’s Connection names, and keeps the others', async () => {
      const r = await get('/conn-named');
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-internal-route'], undefined);
      assert.equal(r.headers['x-kept'], '1');
      assert.equal(r.body, OK_BODY);
    });

    it('reads a head that arrives in pieces cut mid-line', async () => {
      const r = await get('/in-pieces');
      assert.equal(r.status, 200);
      assert.equal(r.body, OK_BODY);
    });

    it('skips interim answers and relays the final one; re-frames a chunked body without its extensions and trailers', async () => {
      const r = await get('/interim');
      assert.equal(r.status, 200);
      assert.equal(r.body, OK_BODY);
      const c = await get('/chunked', '--raw');
      assert.equal(c.status, 200);
      assert.equal(c.headers['trailer-x'], undefined);
      if (transport === 'h1') {
        assert.equal(c.headers['transfer-encoding'], 'chunked');
        assert.equal(c.body, '4\r\npart\r\n4\r\n one\r\n0\r\n\r\n');
      } else {
        assert.equal(c.body, 'part one');
      }
    });

    if (transport === 'h1')
      it('sends the head as soon as it is read, before a body the upstream has not sent yet', async () => {
        for (const path of ['/held-body', '/held-body-uid']) {
          const c = connect(Number(new URL(h.url).port), '127.0.0.1');
          c.on('error', () => {});
          c.setEncoding('latin1');
          let got = '';
          c.on('data', (d: string) => (got += d));
          c.write(`GET ${path} HTTP/1.1\r\nhost: a\r\nx-ldc-uid: 7\r\n\r\n`);
          assert.ok(await until(() => got.includes('\r\n\r\n')), `${path}: the head came alone`);
          assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
          assert.ok(got.endsWith('\r\n\r\n'), `${path}: nothing after the head yet`);
          if (path === '/held-body-uid') assert.match(got, /\r\nset-cookie: ldc=/i);
          held.shift()!.write('hello');
          assert.ok(await until(() => got.endsWith('\r\n\r\nhello')), `${path}: then the body`);
          c.destroy();
        }
      });

    it('sends a GET once more when a reused connection closes before any byte, but never a POST', async () => {
      // `/racy` is answered once per upstream connection; a second `/racy` on it is met with a
      // close. Idle connections are reused most recent first, so the second request below gets
      // the connection that answered the first.
      const first = await get('/racy');
      assert.equal(first.status, 200);
      const before = up.seen.get('/racy') ?? 0;
      const again = await get('/racy');
      assert.equal(again.status, 200, again.body);
      assert.equal(again.body, OK_BODY);
      // Sent twice: on the reused connection (closed), then on another.
      assert.equal((up.seen.get('/racy') ?? 0) - before, 2);

      // A POST may have had its effect before the connection closed: never sent twice. It goes
      // on the connection that just answered the resent GET, and is raced. (An empty body, so
      // it is a request without one over either protocol.)
      const beforePost = up.seen.get('/racy') ?? 0;
      const post = await get('/racy', '-X', 'POST', '-H', 'content-length: 0');
      assert.equal(post.status, 502);
      assert.equal((up.seen.get('/racy') ?? 0) - beforePost, 1);
    });
  });
