/**
 * The HTTP/1.1 fast path over real sockets: keep-alive and pipelining, every request and
 * response framing, the same header rewriting as Node's path, and odd or hostile requests
 * handed to Node's server (answered as before, nothing smuggled upstream).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { readFile as readPem } from 'node:fs/promises';
import { testCerts } from '../helpers/certs.js';
import type { DemoUpstreams } from '../../src/gateway/demo-upstreams.js';
import { exampleDoc } from '../helpers/maps.js';
import { COOKIE_SECRET, startHarness, type Harness } from './harness.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

function answer(seen: Seen[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const path = req.url ?? '/';
      if (path.startsWith('/chunked')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part one, ');
        res.end('part two');
      } else if (path.startsWith('/close')) {
        // Close-delimited (RFC 9112 §6.3 rule 8): no length, no chunking, the end is the FIN.
        req.socket.end(
          'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\nuntil the end',
        );
      } else if (path.startsWith('/empty')) {
        res.writeHead(204).end();
      } else {
        const text = `echo ${req.method} ${path} ${body.length}`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(text.length) });
        res.end(req.method === 'HEAD' ? undefined : text);
      }
    });
  };
}

/** Reads responses off a raw socket one at a time, by their framing. */
class Reader {
  buf = '';
  closed = false;
  readonly #waiters: (() => void)[] = [];
  constructor(readonly s: Socket) {
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      this.buf += d;
      this.#wake();
    });
    s.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }
  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
  #more(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }
  async response(head = false): Promise<{ status: number; headers: Map<string, string>; body: string }> {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end !== -1) {
        const lines = this.buf.slice(0, end).split('\r\n');
        const status = Number(lines[0]!.split(' ')[1]);
        const headers = new Map<string, string>();
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
        }
        let rest = this.buf.slice(end + 4);
        const len = headers.get('content-length');
        if (head || status === 204 || status === 304) {
          this.buf = rest;
          return { status, headers, body: '' };
        }
        if (len !== undefined) {
          if (rest.length >= Number(len)) {
            this.buf = rest.slice(Number(len));
            return { status, headers, body: rest.slice(0, Number(len)) };
          }
        } else if (headers.get('transfer-encoding') === 'chunked') {
          let body = '';
          let done = false;
          for (;;) {
            const nl = rest.indexOf('\r\n');
            if (nl === -1) break;
            const size = parseInt(rest.slice(0, nl), 16);
            if (size === 0) {
              if (rest.slice(nl + 2, nl + 4) === '\r\n') {
                rest = rest.slice(nl + 4);
                done = true;
              }
              break;
            }
            if (rest.length < nl + 2 + size + 2) break;
            body += rest.slice(nl + 2, nl + 2 + size);
            rest = rest.slice(nl + 2 + size + 2);
          }
          if (done) {
            this.buf = rest;
            return { status, headers, body };
          }
        } else if (this.closed) {
          this.buf = '';
          return { status, headers, body: rest };
        }
      }
      if (this.closed) throw new Error(`connection closed; have ${JSON.stringify(this.buf)}`);
      await this.#more();
    }
  }
}

async function open(port: number): Promise<{ s: Socket; r: Reader }> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  return { s, r: new Reader(s) };
}

/** An upstream answering as `answer` does, as the demo upstreams of every zone. */
async function echoUpstreams(seen: Seen[]): Promise<{ upstream: Server; ups: DemoUpstreams }> {
  const upstream = createServer({ keepAliveTimeout: 60_000 }, answer(seen));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const addr = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const doc = exampleDoc();
  for (const zone of Object.values(doc.zones))
    zone.upstreams = { ...zone.upstreams, http: { blue: [addr], green: [addr] } };
  const ups: DemoUpstreams = {
    doc,
    addresses: new Map(),
    hits: new Map(),
    close: async () => {
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    },
  };
  return { upstream, ups };
}

describe('HTTP/1.1 fast path', () => {
  const seen: Seen[] = [];
  let upstream: Server;
  let h: Harness;
  let port: number;

  before(async () => {
    const e = await echoUpstreams(seen);
    upstream = e.upstream;
    h = await startHarness({ upstreams: e.ups });
    port = Number(new URL(h.url).port);
  });
  after(async () => {
    await h.close();
    await new Promise((r) => upstream.close(r));
  });

  it('serves pipelined keep-alive requests in order, rewriting headers as Node’s path does', async () => {
    seen.length = 0;
    const { s, r } = await open(port);
    s.write(
      'GET /one HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\nX-Ldc-Zone: spoofed\r\nX-Forwarded-For: 6.6.6.6\r\nKeep-Alive: 5\r\n\r\n' +
        'GET /chunked HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\n\r\n',
    );
    const a = await r.response();
    const b = await r.response();
    assert.equal(a.status, 200);
    assert.equal(a.body, 'echo GET /one 0');
    assert.equal(b.body, 'part one, part two');
    for (const x of [a, b]) {
      assert.ok(x.headers.get('x-ldc-zone'));
      assert.ok(x.headers.get('x-request-id'));
      assert.equal(x.headers.get('connection'), 'keep-alive');
    }
    assert.deepEqual(
      seen.map((x) => x.url),
      ['/one', '/chunked'],
    );
    const up = seen[0]!.headers;
    assert.notEqual(up['x-ldc-zone'], 'spoofed');
    assert.equal(up['x-forwarded-for'], '127.0.0.1');
    assert.equal(up['keep-alive'], undefined);
    assert.equal(up.host, 'gw');
    assert.match(String(up.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    s.destroy();
  });

  it('forwards Content-Length and chunked request bodies (through Node’s path), extensions and trailers dropped', async () => {
    seen.length = 0;
    const { s, r } = await open(port);
    s.write('POST /cl HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\nContent-Length: 11\r\n\r\nhello');
    s.write(' world');
    assert.equal((await r.response()).body, 'echo POST /cl 11');
    s.write(
      'PUT /te HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n',
    );
    s.write('6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n');
    assert.equal((await r.response()).body, 'echo PUT /te 11');
    assert.equal(seen[0]!.body, 'hello world');
    assert.equal(seen[1]!.body, 'hello world');
    assert.equal(seen[1]!.headers['x-trailer'], undefined);
    s.destroy();
  });

  it('relays close-delimited, HEAD and 204 responses and keeps the client connection', async () => {
    const { s, r } = await open(port);
    s.write('GET /close HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\n\r\n');
    const c = await r.response();
    assert.equal(c.body, 'until the end');
    assert.equal(c.headers.get('transfer-encoding'), 'chunked');
    s.write('HEAD /h HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\n\r\n');
    const hd = await r.response(true);
    assert.equal(hd.status, 200);
    assert.equal(hd.headers.get('content-length'), String('echo HEAD /h 0'.length));
    s.write('GET /empty HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\n\r\n');
    assert.equal((await r.response()).status, 204);
    s.write('GET /after HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\nConnection: close\r\n\r\n');
    const last = await r.response();
    assert.equal(last.body, 'echo GET /after 0');
    assert.equal(last.headers.get('connection'), 'close');
    await new Promise((done) => (r.closed ? done(null) : s.once('close', done)));
  });

  it('hands smuggling attempts to Node’s parser: 400, and nothing smuggled upstream', async () => {
    seen.length = 0;
    for (const attack of [
      'POST /x HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: gw\r\n\r\n',
      'POST /x HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: gw\r\n\r\n',
      'POST /x HTTP/1.1\r\nHost: gw\r\nx-ldc-uid: 1\r\nContent-Length: 1\r\nContent-Length: 40\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: gw\r\n\r\n',
      'GET /x HTTP/1.1\r\nHost: gw\nx-ldc-uid: 1\r\n\r\n',
    ]) {
      const { s, r } = await open(port);
      s.write(attack);
      assert.equal((await r.response()).status, 400, attack);
      s.destroy();
    }
    assert.ok(!seen.some((x) => x.url.includes('smuggled')));
  });

  it('serves a head that arrives in pieces (through Node’s server) and an HTTP/1.0 request', async () => {
    const { s, r } = await open(port);
    s.write('GET /pieces HTTP/1.1\r\nHo');
    await new Promise((done) => setImmediate(done));
    s.write('st: gw\r\nx-ldc-uid: 1\r\n\r\n');
    assert.equal((await r.response()).body, 'echo GET /pieces 0');
    s.destroy();
    const old = await open(port);
    old.s.write('GET /old HTTP/1.0\r\nHost: gw\r\nx-ldc-uid: 1\r\n\r\n');
    assert.equal((await old.r.response()).body, 'echo GET /old 0');
    old.s.destroy();
  });
});

describe('HTTP/1.1 fast path over TLS', () => {
  const seen: Seen[] = [];
  let upstream: Server;
  let h: Harness;
  let port: number;
  let certs: Awaited<ReturnType<typeof testCerts>>;

  before(async () => {
    certs = await testCerts();
    const e = await echoUpstreams(seen);
    upstream = e.upstream;
    h = await startHarness({
      upstreams: e.ups,
      config: {
        listeners: [
          {
            name: 'web',
            protocol: 'https',
            port: 0,
            host: '127.0.0.1',
            tls: {
              cert: certs.serverCert,
              key: certs.serverKey,
              ca: certs.ca,
              requestCert: true,
              watch: false,
            },
            hsts: { maxAgeSec: 600 },
          },
        ],
        identity: {
          cookie: { keys: [{ id: 'k1', secret: COOKIE_SECRET }], secure: false },
          certUid: { from: 'san-uri', pattern: '^urn:zonegate:uid:(.+)$' },
        },
      },
    });
    port = Number(new URL(h.url).port);
  });
  after(async () => {
    await h.close();
    await new Promise((r) => upstream.close(r));
  });

  async function openTls(): Promise<{ s: Socket; r: Reader }> {
    const s = tlsConnect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: certs.caPem,
      cert: await readPem(certs.clientCert),
      key: await readPem(certs.clientKey),
      ALPNProtocols: ['http/1.1'],
    });
    s.on('error', () => {});
    await new Promise((r) => s.once('secureConnect', r));
    return { s, r: new Reader(s) };
  }

  it('serves pipelined requests routed by the client certificate, a body and a refusal on one connection', async () => {
    seen.length = 0;
    const { s, r } = await openTls();
    s.write('GET /one HTTP/1.1\r\nHost: gw\r\n\r\nGET /chunked HTTP/1.1\r\nHost: gw\r\nX-Ldc-Uid: 7\r\n\r\n');
    const a = await r.response();
    const b = await r.response();
    assert.equal(a.body, 'echo GET /one 0');
    assert.equal(b.body, 'part one, part two');
    for (const x of [a, b]) {
      assert.equal(x.headers.get('strict-transport-security'), 'max-age=600');
      assert.equal(x.headers.get('connection'), 'keep-alive');
    }
    // The certificate names the user when no uid header or cookie does (docs/design.md: header,
    // then cookie, then certificate).
    assert.deepEqual(
      seen.map((x) => [x.url, x.headers['x-ldc-uid'], x.headers['x-forwarded-proto']]),
      [
        ['/one', certs.clientUid, 'https'],
        ['/chunked', '7', 'https'],
      ],
    );
    // A body goes through Node's path, and the connection comes back for the next request.
    s.write('POST /cl HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello');
    assert.equal((await r.response()).body, 'echo POST /cl 5');
    s.write('GET /after HTTP/1.1\r\nHost: gw\r\n\r\n');
    assert.equal((await r.response()).body, 'echo GET /after 0');
    // A smuggling attempt is refused as over plain TCP.
    s.write(
      'POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: gw\r\n\r\n',
    );
    assert.equal((await r.response()).status, 400);
    assert.ok(!seen.some((x) => x.url.includes('smuggled')));
    s.destroy();
  });
});
