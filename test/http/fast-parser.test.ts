import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { seededRandom } from '../helpers/maps.js';
import {
  ChunkedDecoder,
  parseRequestHead,
  parseResponseHead,
  rawFields,
  type ChunkSink,
  type RequestHead,
  type ResponseHead,
} from '../../src/http/fast/parser.js';

const MAX = 8192;

function head(text: string, max = MAX): RequestHead {
  const r = parseRequestHead(Buffer.from(text, 'latin1'), max);
  assert.ok(r !== null, 'incomplete');
  assert.equal(r.rejected, undefined, `rejected: ${r.rejected}`);
  return r;
}

function rejected(text: string, max = MAX): string {
  const r = parseRequestHead(Buffer.from(text, 'latin1'), max);
  assert.ok(r !== null && r.rejected !== undefined, `accepted: ${JSON.stringify(text)}`);
  return r.rejected;
}

function response(text: string, max = MAX): ResponseHead {
  const r = parseResponseHead(Buffer.from(text, 'latin1'), 0, max);
  assert.ok(r !== null, 'incomplete');
  assert.equal(r.rejected, undefined, `rejected: ${r.rejected}`);
  return r;
}

function responseRejected(text: string, max = MAX): string {
  const r = parseResponseHead(Buffer.from(text, 'latin1'), 0, max);
  assert.ok(r !== null && r.rejected !== undefined, `accepted: ${JSON.stringify(text)}`);
  return r.rejected;
}

class Collect implements ChunkSink {
  parts: Buffer[] = [];
  chunkData(buf: Buffer, start: number, end: number): void {
    this.parts.push(Buffer.from(buf.subarray(start, end)));
  }
  get text(): string {
    return Buffer.concat(this.parts).toString('latin1');
  }
}

/** Feeds the body one byte at a time when `bytewise` (state must carry across reads). */
function chunked(body: string, bytewise = false): { end: number | string; data: string; done: boolean } {
  const d = new ChunkedDecoder(1024);
  const sink = new Collect();
  const buf = Buffer.from(body, 'latin1');
  let end: number | string = 0;
  if (bytewise) {
    for (let i = 0; i < buf.length && !d.done; i++) {
      end = d.feed(buf, i, i + 1, sink);
      if (typeof end === 'string') break;
    }
  } else {
    end = d.feed(buf, 0, buf.length, sink);
  }
  return { end, data: sink.text, done: d.done };
}

describe('fast path request-head parser', () => {
  it('parses an ordinary keep-alive request into offsets and framing', () => {
    const text =
      'POST /a/b?c=d%20e HTTP/1.1\r\nHost: gw\r\nX-Ldc-Uid:  42 \r\nContent-Length: 5\r\n\r\nhello';
    const h = head(text);
    assert.equal(h.method, 'POST');
    assert.equal(h.target, '/a/b?c=d%20e');
    assert.equal(h.minor, 1);
    assert.equal(h.framing, 'length');
    assert.equal(h.contentLength, 5);
    assert.equal(h.length, text.length - 5);
    assert.deepEqual(rawFields(Buffer.from(text), h), [
      'Host',
      'gw',
      'X-Ldc-Uid',
      '42',
      'Content-Length',
      '5',
    ]);
    assert.equal(h.close || h.upgrade || h.expect, false);
  });

  it('says when more bytes are needed, at every cut of a valid head', () => {
    const text = 'GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n';
    for (let i = 0; i < text.length; i++) {
      assert.equal(parseRequestHead(Buffer.from(text.slice(0, i)), MAX), null, `cut at ${i}`);
    }
    const h = head(text);
    assert.equal(h.close, true);
    assert.equal(h.framing, 'none');
  });

  it('reports Upgrade, Expect and connection options', () => {
    const h = head(
      'GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    assert.equal(h.upgrade, true);
    assert.equal(h.keepAlive, true);
    assert.equal(
      head('PUT / HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n').expect,
      true,
    );
    assert.equal(head('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive, true);
  });

  describe('refuses request smuggling vectors', () => {
    it('CL.TE and TE.CL: both framings in one head, in either order', () => {
      const base = 'POST / HTTP/1.1\r\nHost: gw\r\n';
      assert.equal(
        rejected(`${base}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`),
        'CONTENT_LENGTH_AND_TRANSFER_ENCODING',
      );
      assert.equal(
        rejected(`${base}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`),
        'CONTENT_LENGTH_AND_TRANSFER_ENCODING',
      );
    });

    it('TE.TE: every obfuscated or listed Transfer-Encoding', () => {
      const base = 'POST / HTTP/1.1\r\nHost: gw\r\n';
      for (const te of [
        'Transfer-Encoding: xchunked',
        'Transfer-Encoding: chunked ',
        'Transfer-Encoding: chunked\t',
        'Transfer-Encoding: chunked, identity',
        'Transfer-Encoding: identity, chunked',
        'Transfer-Encoding: gzip, chunked',
        'Transfer-Encoding: chunk',
        'Transfer-Encoding: "chunked"',
        'Transfer-Encoding: chunked;q=1',
        'Transfer-Encoding:',
        'Transfer-Encoding: ch\u00fcnked',
      ]) {
        assert.equal(rejected(`${base}${te}\r\n\r\n`), 'BAD_TRANSFER_ENCODING', te);
      }
      assert.equal(
        rejected(`${base}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`),
        'DUPLICATE_TRANSFER_ENCODING',
      );
      assert.equal(
        rejected(`${base}Transfer-Encoding: chunked\r\nTransfer-encoding: identity\r\n\r\n`),
        'DUPLICATE_TRANSFER_ENCODING',
      );
      assert.equal(rejected(`${base}Transfer-Encoding : chunked\r\n\r\n`), 'WS_BEFORE_COLON');
      assert.equal(rejected(`${base}Transfer-Encoding:\x0bchunked\r\n\r\n`), 'BAD_FIELD_VALUE');
      assert.equal(rejected(`${base}X: y\r\n Transfer-Encoding: chunked\r\n\r\n`), 'OBS_FOLD');
      // Transfer-coding names are case-insensitive (RFC 9112 §7): not an obfuscation.
      assert.equal(head(`${base}TRANSFER-ENCODING: ChUnKeD\r\n\r\n`).framing, 'chunked');
    });

    it('CL.CL: repeated, listed, signed, spaced or oversize lengths', () => {
      const base = 'POST / HTTP/1.1\r\nHost: gw\r\n';
      assert.equal(
        rejected(`${base}Content-Length: 5\r\nContent-Length: 5\r\n\r\n`),
        'DUPLICATE_CONTENT_LENGTH',
      );
      assert.equal(
        rejected(`${base}Content-Length: 5\r\ncontent-length: 6\r\n\r\n`),
        'DUPLICATE_CONTENT_LENGTH',
      );
      for (const v of ['5, 5', '+5', '-1', '5 5', '0x10', '', '1e3', '1234567890123456', '5.0']) {
        assert.equal(rejected(`${base}Content-Length: ${v}\r\n\r\n`), 'BAD_CONTENT_LENGTH', v);
      }
    });

    it('HTTP/1.0 with chunked', () => {
      assert.equal(
        rejected('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
        'TRANSFER_ENCODING_ON_HTTP10',
      );
    });

    it('obs-fold, bare LF, bare CR, NUL and control bytes', () => {
      assert.equal(rejected('GET / HTTP/1.1\r\nHost: gw\r\nX: a\r\n\tb\r\n\r\n'), 'OBS_FOLD');
      assert.equal(rejected('GET / HTTP/1.1\r\n Host: gw\r\n\r\n'), 'OBS_FOLD');
      assert.equal(rejected('GET / HTTP/1.1\nHost: gw\r\n\r\n'), 'BARE_LF');
      assert.equal(rejected('GET / HTTP/1.1\r\nHost: gw\n\r\n'), 'BARE_LF');
      assert.equal(rejected('GET / HTTP/1.1\r\nHost: gw\r\n\n'), 'BARE_LF');
      assert.equal(rejected('GET / HTTP/1.1\r\nHost: gw\rX: y\r\n\r\n'), 'BARE_CR');
      assert.equal(rejected('GET / HTTP/1.1\r\nHost: gw\r\n\rX'), 'BARE_CR');
      assert.equal(rejected('GET / HTTP/1.1\r\nHost: g\x00w\r\n\r\n'), 'BAD_FIELD_VALUE');
      assert.equal(rejected('GET / HTTP/1.1\r\nHost: g\x7fw\r\n\r\n'), 'BAD_FIELD_VALUE');
      assert.equal(rejected('GET / HTTP/1.1\r\nHo\x00st: gw\r\n\r\n'), 'BAD_FIELD_NAME');
      assert.equal(rejected('GET /\x00 HTTP/1.1\r\nHost: gw\r\n\r\n'), 'BAD_TARGET');
    });

    it('header names with spaces, empty names, bad request lines', () => {
      assert.equal(rejected('GET / HTTP/1.1\r\nHost : gw\r\n\r\n'), 'WS_BEFORE_COLON');
      assert.equal(rejected('GET / HTTP/1.1\r\nX Y: gw\r\n\r\n'), 'WS_BEFORE_COLON');
      assert.equal(rejected('GET / HTTP/1.1\r\n: gw\r\n\r\n'), 'EMPTY_FIELD_NAME');
      assert.equal(rejected('GET / HTTP/1.1\r\nX\u00e9: gw\r\n\r\n'), 'BAD_FIELD_NAME');
      assert.equal(rejected('\r\nGET / HTTP/1.1\r\nHost: gw\r\n\r\n'), 'BAD_METHOD');
      assert.equal(rejected('GET  / HTTP/1.1\r\n\r\n'), 'BAD_TARGET');
      assert.equal(rejected('GET http://a/ HTTP/1.1\r\n\r\n'), 'BAD_TARGET');
      assert.equal(rejected('GET /a#b HTTP/1.1\r\n\r\n'), 'BAD_TARGET');
      assert.equal(rejected('GET /%zz HTTP/1.1\r\n\r\n'), 'BAD_TARGET');
      assert.equal(rejected('GET / HTTP/1.2\r\n\r\n'), 'BAD_VERSION');
      assert.equal(rejected('GET / http/1.1\r\n\r\n'), 'BAD_VERSION');
      assert.equal(rejected('GET / HTTP/1.1 \r\n\r\n'), 'BAD_VERSION');
      assert.equal(rejected('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'BAD_METHOD');
      assert.equal(rejected('OPTIONS * HTTP/1.1\r\n\r\n'), 'BAD_TARGET');
      assert.equal(rejected('get / HTTP/1.1\r\n\r\n'), 'BAD_METHOD');
      assert.equal(rejected('CONNECT / HTTP/1.1\r\n\r\n'), 'BAD_METHOD');
    });

    it('oversize heads, without waiting for their end', () => {
      const big = `GET / HTTP/1.1\r\nHost: gw\r\nX: ${'a'.repeat(200)}`;
      assert.equal(rejected(big, 100), 'HEAD_TOO_LARGE');
      const fits = 'GET / HTTP/1.1\r\nHost: gw\r\n\r\n';
      assert.equal(head(fits, fits.length).length, fits.length);
      assert.equal(rejected(`${fits}x`, fits.length - 1), 'HEAD_TOO_LARGE');
      let many = 'GET / HTTP/1.1\r\n';
      for (let i = 0; i < 200; i++) many += `X-${i}: v\r\n`;
      assert.equal(rejected(`${many}\r\n`), 'TOO_MANY_FIELDS');
    });
  });

  describe('chunked body decoder', () => {
    it('decodes chunks with extensions and trailers, byte by byte as well', () => {
      const body = '5;a=b;c="d \\" e"\r\nhello\r\n1A\r\n' + 'x'.repeat(26) + '\r\n0\r\nX-T: 1\r\n\r\nNEXT';
      for (const bytewise of [false, true]) {
        const r = chunked(body, bytewise);
        assert.equal(r.done, true);
        assert.equal(r.data, 'hello' + 'x'.repeat(26));
        if (!bytewise) assert.equal(r.end, body.length - 4);
      }
    });

    it('refuses malformed framing', () => {
      const cases: [string, string][] = [
        ['-5\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
        [' 5\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
        ['5 \r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
        ['0x5\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
        ['5\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
        ['5\r\nhelloX\r\n0\r\n\r\n', 'BAD_CHUNK_END'],
        ['5\r\nhello\n0\r\n\r\n', 'BAD_CHUNK_END'],
        ['5 ;a=b\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
        ['5; a=b\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
        ['5;a =b\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
        ['5;a="b\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
        ['5;a="b"c\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
        ['5;\x00\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
        ['0\r\nX : y\r\n\r\n', 'BAD_TRAILER'],
        ['0\r\nX: y\n\r\n', 'BAD_TRAILER'],
        ['0\r\n y\r\n\r\n', 'BAD_TRAILER'],
        ['0\r\n\n', 'BAD_TRAILER'],
        ['0\r\nX: \x00\r\n\r\n', 'BAD_TRAILER'],
      ];
      for (const [body, code] of cases) assert.equal(chunked(body).end, code, JSON.stringify(body));
    });

    it('refuses huge chunk sizes before overflow, however padded', () => {
      assert.equal(chunked('fffffffffffffffff\r\n').end, 'CHUNK_SIZE_TOO_BIG');
      assert.equal(chunked('10000000000000\r\n').end, 'CHUNK_SIZE_TOO_BIG');
      assert.equal(chunked('ffffffffffffffffffffffffffffffff0\r\n').end, 'CHUNK_SIZE_TOO_BIG');
      // Leading zeros are not size: still bounded by the line length.
      const padded = chunked('0000000000000000000005\r\nhello\r\n0\r\n\r\n');
      assert.equal(padded.data, 'hello');
      assert.equal(chunked(`${'0'.repeat(2000)}5\r\n`).end, 'CHUNK_LINE_TOO_LONG');
    });

    it('bounds extensions and trailers', () => {
      assert.equal(chunked(`5;a=${'b'.repeat(2000)}\r\n`).end, 'CHUNK_LINE_TOO_LONG');
      assert.equal(chunked(`0\r\nX: ${'y'.repeat(2000)}\r\n\r\n`).end, 'TRAILERS_TOO_LARGE');
    });
  });
});

// ---------------------------------------------------------------------------------------------
describe('fast path response-head parser (what an upstream answers)', () => {
  it('reads the status, version, fields, framing and whether the connection stays open', () => {
    const r = response(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello world!',
    );
    assert.equal(r.status, 200);
    assert.equal(r.minor, 1);
    assert.equal(r.framing, 'length');
    assert.equal(r.contentLength, 12);
    assert.equal(r.keepAlive, true);
    assert.equal(
      r.length,
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n'.length,
    );
    assert.deepEqual(
      rawFields(
        Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n', 'latin1'),
        r,
      ),
      ['Content-Type', 'text/plain', 'Content-Length', '12'],
    );
    assert.equal(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').framing, 'chunked');
    assert.equal(response('HTTP/1.1 200 OK\r\n\r\n').framing, 'close');
    assert.equal(
      response('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').keepAlive,
      false,
    );
    assert.equal(response('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive, false);
    assert.equal(
      response('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').keepAlive,
      true,
    );
    // An empty or missing reason phrase (RFC 9112 §4: clients ignore it).
    assert.equal(response('HTTP/1.1 204 \r\n\r\n').status, 204);
    assert.equal(response('HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n').status, 404);
    assert.equal(response('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n').status, 103);
    // A head that starts further into the buffer (after a 1xx).
    const two = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n',
      'latin1',
    );
    const first = parseResponseHead(two, 0, MAX);
    assert.ok(first !== null && first.rejected === undefined);
    const second = parseResponseHead(two, first.length, MAX);
    assert.ok(second !== null && second.rejected === undefined);
    assert.equal(second.status, 201);
    assert.equal(first.length + second.length, two.length);
  });

  it('says when more bytes are needed, at every cut of a valid head', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b c\r\n\r\n';
    for (let cut = 0; cut < text.length; cut++) {
      assert.equal(parseResponseHead(Buffer.from(text.slice(0, cut), 'latin1'), 0, MAX), null, `cut ${cut}`);
    }
  });

  it('refuses framing an upstream could mean two ways, and malformed heads', () => {
    assert.equal(
      responseRejected('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'),
      'CONTENT_LENGTH_AND_TRANSFER_ENCODING',
    );
    assert.equal(
      responseRejected('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n'),
      'DUPLICATE_CONTENT_LENGTH',
    );
    assert.equal(responseRejected('HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n'), 'BAD_CONTENT_LENGTH');
    assert.equal(responseRejected('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'), 'BAD_CONTENT_LENGTH');
    assert.equal(
      responseRejected('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'),
      'BAD_TRANSFER_ENCODING',
    );
    assert.equal(
      responseRejected('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'),
      'DUPLICATE_TRANSFER_ENCODING',
    );
    assert.equal(
      responseRejected('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
      'TRANSFER_ENCODING_ON_HTTP10',
    );
    assert.equal(responseRejected('HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n'), 'OBS_FOLD');
    assert.equal(responseRejected('HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n'), 'BARE_LF');
    assert.equal(responseRejected('HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n'), 'BARE_CR');
    assert.equal(responseRejected('HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n'), 'BAD_FIELD_VALUE');
    assert.equal(responseRejected('HTTP/1.1 200 OK\r\nX-A : b\r\n\r\n'), 'WS_BEFORE_COLON');
    assert.equal(responseRejected('HTTP/2 200 OK\r\n\r\n'), 'BAD_VERSION');
    assert.equal(responseRejected('HTTP/1.1 20 OK\r\n\r\n'), 'BAD_STATUS');
    assert.equal(responseRejected('HTTP/1.1 2000 OK\r\n\r\n'), 'BAD_STATUS');
    assert.equal(responseRejected('HTTP/1.1 099 OK\r\n\r\n'), 'BAD_STATUS');
    assert.equal(responseRejected('HTTP/1.1 200 O\x01K\r\n\r\n'), 'BAD_STATUS');
    // Oversize, without waiting for the end.
    assert.equal(responseRejected(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(300)}`, 256), 'HEAD_TOO_LARGE');
  });
});

// Differential fuzz against llhttp, Node's own parser. It is driven through Node's internal
// HTTPParser binding (`_http_common`, reachable from require() without flags, initialised with
// the same strict defaults http.createServer uses: no lenient flags). For a few thousand
// mutated requests: whatever ours accepts, llhttp accepts with the same method, target,
// version, header lines and body framing; so whatever llhttp rejects, ours rejects.
// ---------------------------------------------------------------------------------------------

interface LlHead {
  minor: number;
  /** Requests: method and target. */
  method: string;
  url: string;
  headers: string[];
  /** Responses: status and whether the connection stays open after the message. */
  status: number;
  keepAlive: boolean;
}
interface LlResult {
  error: string | null;
  head: LlHead | null;
  complete: boolean;
  body: string;
}
interface NodeHTTPParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(buf: Buffer): number | (Error & { code?: string });
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}
interface HttpCommon {
  HTTPParser: {
    new (): NodeHTTPParser;
    REQUEST: number;
    RESPONSE: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kOnExecute: number;
  };
  methods: string[];
}

/** A few thousand by default (fast); set FUZZ_CASES higher for a longer hunt. */
const FUZZ_CASES = Number(process.env.FUZZ_CASES ?? 4000);
const nodeRequire = createRequire(import.meta.url);
const common = nodeRequire('_http_common') as HttpCommon;

/**
 * Run llhttp over one buffer as a request (REQUEST) or a response (RESPONSE) parser; `eof`: the
 * peer closed after it (ends a close-delimited response body).
 */
function llhttp(buf: Buffer, type = common.HTTPParser.REQUEST, eof = false): LlResult {
  const P = common.HTTPParser;
  const p = new P();
  p.initialize(type, {}, MAX, 0);
  const out: LlResult = { error: null, head: null, complete: false, body: '' };
  const bodies: Buffer[] = [];
  let messages = 0;
  p[P.kOnHeaders] = (): void => {
    // Called for trailers, and for a head split over several reads (never here: one buffer).
    if (messages === 0) out.error = 'SPLIT_HEADERS';
  };
  p[P.kOnHeadersComplete] = (
    _major: number,
    minor: number,
    headers: string[],
    method: number,
    url: string,
    status: number,
    _message: string,
    _upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    messages++;
    if (messages === 1)
      out.head = { minor, method: common.methods[method] ?? '', url, headers, status, keepAlive };
    return 0;
  };
  p[P.kOnBody] = (b: Buffer): void => {
    if (messages === 1) bodies.push(Buffer.from(b));
  };
  p[P.kOnMessageComplete] = (): void => {
    if (messages === 1) out.complete = true;
  };
  p[P.kOnExecute] = (): void => {};
  const r = p.execute(buf);
  if (typeof r !== 'number') out.error = r.code ?? 'ERROR';
  else if (eof) {
    const f = p.finish();
    if (f !== undefined && typeof f !== 'number') out.error = (f as { code?: string }).code ?? 'ERROR';
  }
  p.close();
  out.body = Buffer.concat(bodies).toString('latin1');
  return out;
}

const SEEDS = [
  'GET / HTTP/1.1\r\nHost: gw.example\r\n\r\n',
  'GET /api/v1/items?id=7&x=%41 HTTP/1.1\r\nHost: gw\r\nX-Ldc-Uid: 42\r\nCookie: a=1; ldc=v.1\r\nAccept: */*\r\n\r\n',
  'POST /submit HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n',
  'PUT /up HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n',
  'GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'DELETE /x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nUser-Agent: fuzz/1.0 (x; y)\r\n\r\n',
];

const SNIPPETS = [
  ' ',
  '\t',
  '\r',
  '\n',
  '\r\n',
  '\x00',
  '\x7f',
  '\x0b',
  '\x80',
  '\xff',
  ':',
  ',',
  ';',
  '"',
  '#',
  '%',
  '%0',
  '/',
  '?',
  'a',
  'Z',
  '0',
  'chunked',
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: identity\r\n',
  'Transfer-Encoding: chunked, identity\r\n',
  'Transfer-Encoding : chunked\r\n',
  'Transfer-Encoding:\tchunked\r\n',
  'Transfer-Encoding: xchunked\r\n',
  'Content-Length: 5\r\n',
  'Content-Length: 0\r\n',
  'Content-Length: 5, 5\r\n',
  'Content-Length: +5\r\n',
  'Content-Length:  007 \r\n',
  'Connection: upgrade\r\nUpgrade: h2c\r\n',
  'Expect: 100-continue\r\n',
  ' folded\r\n',
  'X-Empty:\r\n',
  'Host: other\r\n',
];

function mutate(seed: string, rnd: () => number): string {
  let s = seed;
  const steps = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < steps; k++) {
    // Mutate inside the head (and just past it), where parsers can disagree.
    const headEnd = Math.max(1, s.indexOf('\r\n\r\n') + 4);
    const at = Math.floor(rnd() * headEnd);
    const pick = SNIPPETS[Math.floor(rnd() * SNIPPETS.length)]!;
    switch (Math.floor(rnd() * 6)) {
      case 0:
        s = s.slice(0, at) + pick + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 3));
        break;
      case 2:
        s = s.slice(0, at) + pick + s.slice(at + 1);
        break;
      case 3:
        s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 256)) + s.slice(at + 1);
        break;
      case 4: {
        // A whole header line at a line start.
        const line = s.indexOf('\r\n', at);
        if (line !== -1 && pick.endsWith('\r\n')) s = s.slice(0, line + 2) + pick + s.slice(line + 2);
        break;
      }
      default: {
        const ch = s.charAt(at);
        const flipped = ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase();
        s = s.slice(0, at) + flipped + s.slice(at + 1);
      }
    }
  }
  return s;
}

/** A body that matches what our parse says, so llhttp must reach the same message end. */
function bodyFor(h: RequestHead, rnd: () => number): { wire: string; data: string } {
  if (h.framing === 'length') {
    const data = 'b'.repeat(h.contentLength);
    return { wire: data, data };
  }
  if (h.framing === 'chunked') {
    const n = 1 + Math.floor(rnd() * 20);
    const data = 'c'.repeat(n);
    return { wire: `${n.toString(16)}\r\n${data}\r\n0\r\n\r\n`, data };
  }
  return { wire: '', data: '' };
}

describe('differential fuzz against llhttp', () => {
  it('ours accepts only what llhttp accepts, and reads it the same way', () => {
    const rnd = seededRandom(0x5eed11);
    let accepted = 0;
    let refused = 0;
    const N = FUZZ_CASES;
    for (let i = 0; i < N; i++) {
      const text = mutate(SEEDS[i % SEEDS.length]!, rnd);
      const buf = Buffer.from(text, 'latin1');
      const ours = parseRequestHead(buf, MAX);
      if (ours === null || ours.rejected !== undefined) {
        refused++;
        continue;
      }
      accepted++;
      const body = bodyFor(ours, rnd);
      const wire = Buffer.concat([buf.subarray(0, ours.length), Buffer.from(body.wire, 'latin1')]);
      const theirs = llhttp(wire);
      const what = `case ${i}: ${JSON.stringify(text)}`;
      assert.equal(theirs.error, null, `llhttp refused what we accept: ${what}`);
      assert.ok(theirs.head !== null, what);
      assert.equal(theirs.head.method, ours.method, what);
      assert.equal(theirs.head.url, ours.target, what);
      assert.equal(theirs.head.minor, ours.minor, what);
      assert.deepEqual(theirs.head.headers, rawFields(buf, ours), what);
      // Same framing: llhttp ends the message exactly where our framing says it ends.
      assert.equal(theirs.complete, true, `llhttp did not end the message where we do: ${what}`);
      assert.equal(theirs.body, body.data, what);
    }
    // Both outcomes must be well exercised, or the fuzz proves little.
    assert.ok(accepted > N / 10, `accepted ${accepted}`);
    assert.ok(refused > N / 10, `refused ${refused}`);
  });

  it('chunked bodies: ours decodes only what llhttp decodes, to the same bytes', () => {
    const rnd = seededRandom(0xc0ffee);
    const prefix = 'POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n';
    const seeds = [
      '5\r\nhello\r\n0\r\n\r\n',
      '3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n',
      '2;q="x y"\r\nhi\r\n0\r\nTrailer-A: 1\r\n\r\n',
      '1\r\nz\r\n0;last\r\n\r\n',
    ];
    const chunkSnippets = [' ', '\t', '\r', '\n', '\x00', ';', '=', '"', '\\', 'a', 'F', '0', '-', 'x', ':'];
    let accepted = 0;
    const N = Math.ceil(FUZZ_CASES / 2);
    for (let i = 0; i < N; i++) {
      let s = seeds[i % seeds.length]!;
      const steps = 1 + Math.floor(rnd() * 2);
      for (let k = 0; k < steps; k++) {
        const at = Math.floor(rnd() * s.length);
        const pick = chunkSnippets[Math.floor(rnd() * chunkSnippets.length)]!;
        const op = Math.floor(rnd() * 3);
        s =
          op === 0
            ? s.slice(0, at) + pick + s.slice(at)
            : op === 1
              ? s.slice(0, at) + s.slice(at + 1)
              : s.slice(0, at) + pick + s.slice(at + 1);
      }
      const d = new ChunkedDecoder(1024);
      const sink = new Collect();
      const buf = Buffer.from(s, 'latin1');
      const end = d.feed(buf, 0, buf.length, sink);
      if (typeof end === 'string' || !d.done) continue;
      accepted++;
      const theirs = llhttp(Buffer.from(prefix + s.slice(0, end), 'latin1'));
      const what = `case ${i}: ${JSON.stringify(s)}`;
      assert.equal(theirs.error, null, `llhttp refused a body we accept: ${what}`);
      assert.equal(theirs.complete, true, what);
      assert.equal(theirs.body, sink.text, what);
    }
    assert.ok(accepted > N / 10, `accepted ${accepted}`);
  });
});

// The same for response heads: llhttp in RESPONSE mode, as undici and Node's http client use it.
// ---------------------------------------------------------------------------------------------

const RESPONSE_SEEDS = [
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1; Path=/\r\n\r\n',
  'HTTP/1.1 404 Not Found\r\nDate: Mon, 30 Nov 2026 03:00:00 GMT\r\nConnection: close\r\n\r\n',
  'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n',
  'HTTP/1.1 204 No Content\r\nX-Ldc-Uid: 42\r\n\r\n',
  'HTTP/1.1 302 Found\r\nLocation: /next?x=1\r\nContent-Length: 0\r\n\r\n',
];

describe('differential fuzz of response heads against llhttp', () => {
  it('ours accepts only what llhttp accepts, with the same status, fields and message end', () => {
    const rnd = seededRandom(0x7e5b07);
    let accepted = 0;
    let refused = 0;
    const N = FUZZ_CASES;
    for (let i = 0; i < N; i++) {
      const text = mutate(RESPONSE_SEEDS[i % RESPONSE_SEEDS.length]!, rnd);
      const buf = Buffer.from(text, 'latin1');
      const ours = parseResponseHead(buf, 0, MAX);
      if (ours === null || ours.rejected !== undefined || ours.status === 101) {
        refused++;
        continue;
      }
      accepted++;
      // A body as our framing reads it (none where the status forbids one).
      const bodiless = ours.status < 200 || ours.status === 204 || ours.status === 304;
      let wire = '';
      let data = '';
      if (!bodiless && ours.framing === 'length') {
        data = 'b'.repeat(ours.contentLength);
        wire = data;
      } else if (!bodiless && ours.framing === 'chunked') {
        data = 'c'.repeat(1 + Math.floor(rnd() * 20));
        wire = `${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`;
      } else if (!bodiless) {
        data = 'until the end';
        wire = data;
      }
      const eof = !bodiless && ours.framing === 'close';
      const theirs = llhttp(
        Buffer.concat([buf.subarray(0, ours.length), Buffer.from(wire, 'latin1')]),
        common.HTTPParser.RESPONSE,
        eof,
      );
      const what = `case ${i}: ${JSON.stringify(text)}`;
      assert.equal(theirs.error, null, `llhttp refused what we accept: ${what}`);
      assert.ok(theirs.head !== null, what);
      assert.equal(theirs.head.status, ours.status, what);
      assert.equal(theirs.head.minor, ours.minor, what);
      assert.deepEqual(theirs.head.headers, rawFields(buf, ours), what);
      assert.equal(theirs.complete, true, `llhttp did not end the message where we do: ${what}`);
      assert.equal(theirs.body, data, what);
      if (!eof) assert.equal(theirs.head.keepAlive, ours.keepAlive, `keep-alive differs: ${what}`);
    }
    assert.ok(accepted > N / 10, `accepted ${accepted}`);
    assert.ok(refused > N / 10, `refused ${refused}`);
  });
});
