import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findCookie, scanRequestHeaders } from '../../src/http/index.js';
import {
  filterResponseHeaders,
  RequestFieldScan,
  ResponseFieldScan,
  type ScannedRequest,
} from '../../src/http/headers.js';
import { parseRequestHead, parseResponseHead, rawFields, rawFieldViews } from '../../src/http/fast/parser.js';
import { NO_KEPT_LINES, requestHeadBytes } from '../../src/http/upstream-call.js';
import { RequestTrace } from '../../src/http/request-trace.js';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';

/** A seeded generator for random heads: numbers, names in mixed case, optional whitespace. */
function randomHeads(seed: number): {
  rnd: (n: number) => number;
  /**
   * Up to `most` fields named from `pool` in mixed case, with OWS around values (none after a
   * transfer coding, which the parser refuses), one framing field at most (the parser refuses
   * two; its own tests cover that), Connection listing pool names; `value` picks the others.
   */
  fields: (pool: readonly string[], most: number, value: (lower: string) => string | undefined) => string[][];
} {
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const cased = (n: string): string =>
    [...n].map((c) => (rnd(3) === 0 ? c.toUpperCase() : rnd(2) === 0 ? c.toLowerCase() : c)).join('');
  const ows = (): string => [' ', '', '  ', '\t', ' \t'][rnd(5)]!;
  const fields = (
    pool: readonly string[],
    most: number,
    value: (lower: string) => string | undefined,
  ): string[][] => {
    const out: string[][] = [];
    const count = rnd(most + 1);
    let framed = false;
    for (let i = 0; i < count; i++) {
      const name = cased(pool[rnd(pool.length)]!);
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'transfer-encoding') {
        if (framed) continue;
        framed = true;
      }
      const v =
        lower === 'connection'
          ? Array.from({ length: rnd(3) + 1 }, () => cased(pool[rnd(pool.length)]!))
              .concat(['close', 'keep-alive'][rnd(2)]!)
              .join(',' + ows())
          : lower === 'transfer-encoding'
            ? 'chunked'
            : (value(lower) ?? `v${rnd(100)}`);
      out.push([name, lower === 'transfer-encoding' ? ` ${v}` : `${ows()}${v}${ows()}`]);
    }
    return out;
  };
  return { rnd, fields };
}

/** The field lines a scan's runs keep, read back as [name, value, …] (values without OWS). */
function keptLines(
  buf: Buffer,
  scan: { readonly runs: readonly number[]; readonly bytes: number },
): string[] {
  const out: string[] = [];
  let bytes = 0;
  for (let i = 0; i < scan.runs.length; i += 2) {
    const run = buf.toString('latin1', scan.runs[i], scan.runs[i + 1]);
    bytes += run.length + 2;
    for (const line of run.split('\r\n')) {
      const colon = line.indexOf(':');
      out.push(line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, ''));
    }
  }
  assert.equal(scan.bytes, bytes, 'bytes counts every run and its CRLF');
  return out;
}

describe('request header scan', () => {
  it('picks routing inputs, drops hop-by-hop and client x-ldc-*, keeps the rest as spelled', () => {
    const s = scanRequestHeaders(
      [
        'Host',
        'gw.example',
        'X-LDC-UID',
        '42',
        'X-Ldc-Zone',
        'rz09',
        'x-ldc-hop',
        'sh-1',
        'Connection',
        'keep-alive, X-Secret',
        'X-Secret',
        's',
        'Transfer-Encoding',
        'chunked',
        'Cookie',
        'a=1; ldc="v.1.rz01.NDI.mac"; b=2',
        'X-Forwarded-For',
        '6.6.6.6',
        'Accept',
        '*/*',
      ],
      'x-ldc-uid',
      'ldc',
    );
    assert.equal(s.uid, '42');
    assert.equal(s.hop, 'sh-1');
    assert.equal(s.cookie, 'v.1.rz01.NDI.mac');
    assert.equal(s.host, 'gw.example');
    assert.equal(s.hosts, 1);
    assert.equal(s.chunked, true);
    assert.deepEqual(s.forwarded, ['X-Forwarded-For', '6.6.6.6']);
    // Host goes upstream once, from the request check, never from the client's list.
    assert.deepEqual(s.out, ['Cookie', 'a=1; ldc="v.1.rz01.NDI.mac"; b=2', 'Accept', '*/*']);
  });

  it('honours a uid header name without the x- prefix and HTTP/2 pseudo-headers', () => {
    const s = scanRequestHeaders(
      [':authority', 'h2.example', ':path', '/', 'ldc-user', '7', 'cookie', 'ldc=abc'],
      'ldc-user',
      'ldc',
    );
    assert.equal(s.uid, '7');
    assert.equal(s.authority, 'h2.example');
    assert.equal(s.host, undefined);
    assert.equal(s.cookie, 'abc');
    assert.deepEqual(s.out, ['cookie', 'ldc=abc']);
  });

  it('finds a cookie by exact name only', () => {
    assert.equal(findCookie('xldc=1; ldc=2', 'ldc'), '2');
    assert.equal(findCookie('ldcx=1', 'ldc'), undefined);
    assert.equal(findCookie('ldc=', 'ldc'), '');
  });
});

describe('response header filter', () => {
  const raw = (...pairs: string[]): Buffer[] => pairs.map((p) => Buffer.from(p, 'latin1'));

  it('drops hop-by-hop fields and those the upstream’s Connection names, keeps the rest as spelled', () => {
    const out: string[] = ['x-before', 'kept'];
    const uid = filterResponseHeaders(
      raw(
        'X-Route-Secret',
        'rz00',
        'Content-Type',
        'text/plain',
        'Connection',
        'keep-alive, X-Route-Secret',
        'connection',
        'x-other ,  close',
        'Keep-Alive',
        'timeout=5',
        'X-Other',
        '1',
        'Transfer-Encoding',
        'chunked',
        'X-Ldc-Uid',
        '42',
        'Set-Cookie',
        'a=1',
      ),
      out,
      'x-ldc-uid',
    );
    assert.equal(uid, '42');
    assert.deepEqual(out, ['x-before', 'kept', 'Content-Type', 'text/plain', 'Set-Cookie', 'a=1']);
  });

  it('never drops Content-Length, whatever Connection names', () => {
    const out: string[] = [];
    filterResponseHeaders(
      raw('Content-Length', '5', 'Connection', 'content-length, close'),
      out,
      'x-ldc-uid',
    );
    assert.deepEqual(out, ['Content-Length', '5']);
  });
});

describe('response field scan on bytes (the fast path) against the string filter', () => {
  function check(fields: string[][], uidHeader = 'x-ldc-uid'): void {
    const text = `HTTP/1.1 200 OK\r\n${fields.map(([n, v]) => `${n}:${v}\r\n`).join('')}\r\n`;
    const buf = Buffer.from(text, 'latin1');
    const head = parseResponseHead(buf, 0, 1 << 16);
    assert.ok(head !== null && head.rejected === undefined, text);
    const out: string[] = [];
    const uid = filterResponseHeaders(rawFieldViews(buf, head.fields), out, uidHeader);
    const scan = new ResponseFieldScan();
    scan.scan(buf, head.fields, uidHeader);
    assert.deepEqual(keptLines(buf, scan), out, text);
    assert.equal(scan.uid, uid, text);
    const names = out.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.equal(scan.hasDate, names.includes('date'), text);
    assert.equal(scan.hasLength, names.includes('content-length'), text);
  }

  it('keeps and drops the same fields, byte for byte, on hand-picked heads', () => {
    check([
      ['Server', ' nginx'],
      ['Connection', ' keep-alive'],
      ['Content-Length', ' 5'],
    ]);
    check([
      ['X-Route-Secret', ' rz00'],
      ['Connection', ' keep-alive, X-Route-Secret'],
      ['DATE', '  Mon, 30 Nov 2026 05:58:16 GMT  '],
      ['x-other', '1'],
      ['connection', ' x-other ,  close'],
      ['X-LDC-UID', ' 42'],
      ['Set-Cookie', ' a=1'],
    ]);
    check([
      ['Content-Length', ' 5'],
      ['Connection', ' content-length, close'],
    ]);
    check([
      ['Keep-Alive', ' timeout=5'],
      ['TE', ' trailers'],
      ['Trailer', ' x'],
      ['Upgrade', ' h2c'],
    ]);
    check([]);
    check(
      [
        ['X-User', ' 7'],
        ['x-user', ' 8'],
      ],
      'x-user',
    );
  });

  it('agrees with the string filter on 3,000 random heads', () => {
    const pool = [
      'Content-Type',
      'content-length',
      'Date',
      'Server',
      'Connection',
      'Keep-Alive',
      'Proxy-Connection',
      'Transfer-Encoding',
      'Upgrade',
      'TE',
      'Trailer',
      'HTTP2-Settings',
      'Proxy-Authenticate',
      'Proxy-Authorization',
      'X-Ldc-Uid',
      'X-Route',
      'Set-Cookie',
      'Cache-Control',
      'Vary',
      'ETag',
      'X-A',
    ];
    const { fields } = randomHeads(0x2545f491);
    for (let k = 0; k < 3000; k++) {
      check(fields(pool, 8, (lower) => (lower === 'content-length' ? '5' : undefined)));
    }
  });
});

describe('request field scan on bytes (the fast path) against the string scan', () => {
  /** Everything but `out`, which the byte scan leaves to the gateway's own fields. */
  function answers(s: ScannedRequest): Record<string, unknown> {
    const { out: _out, uidError, ...rest } = s;
    return { ...rest, uidError: uidError?.message ?? null };
  }

  function check(fields: string[][], uidHeader = 'x-ldc-uid'): void {
    const text = `GET /p?q=1 HTTP/1.1\r\n${fields.map(([n, v]) => `${n}:${v}\r\n`).join('')}\r\n`;
    const buf = Buffer.from(text, 'latin1');
    const head = parseRequestHead(buf, 1 << 16);
    assert.ok(head !== null && head.rejected === undefined, text);
    const byString = scanRequestHeaders(rawFields(buf, head), uidHeader, 'ldc');
    const scan = new RequestFieldScan();
    const byBytes = scan.scan(buf, head.fields, uidHeader, 'ldc');
    assert.deepEqual(answers(byBytes), answers(byString), text);
    assert.deepEqual(byBytes.out, [], 'the client fields are runs, not strings');
    assert.deepEqual(keptLines(buf, scan), byString.out, text);
  }

  it('keeps, drops and reads the same fields on hand-picked heads', () => {
    check([
      ['Host', ' gw.example'],
      ['X-LDC-UID', ' 42'],
      ['X-Ldc-Zone', ' rz09'],
      ['x-ldc-hop', ' sh-1'],
      ['Connection', ' keep-alive, X-Secret'],
      ['X-Secret', ' s'],
      ['Transfer-Encoding', ' chunked'],
      ['Cookie', ' a=1; ldc="v.1.rz01.NDI.mac"; b=2'],
      ['X-Forwarded-For', ' 6.6.6.6'],
      ['Accept', '  */*  '],
    ]);
    check([
      ['host', 'a'],
      ['HOST', 'b'],
      ['x-ldc-uid', ' %E7%94%A8'],
      ['X-Request-Id', ' abc'],
      ['traceparent', ' 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
      ['Content-Length', ' 0'],
      ['Connection', ' content-length, cookie'],
      ['Cookie', ' ldc=z'],
      ['Expect', ' 100-continue'],
      ['Upgrade', ' websocket'],
      ['X-Real-IP', ' 1.2.3.4'],
      ['Forwarded', ' for=1.2.3.4'],
    ]);
    // A uid that is not UTF-8, and a uid header without the x- prefix.
    check([['X-Ldc-Uid', ' \xff\xfe']]);
    check(
      [
        ['ldc-user', ' 7'],
        ['X-Other', ' 1'],
      ],
      'ldc-user',
    );
    check([]);
  });

  it('agrees with the string scan on 3,000 random heads', () => {
    const pool = [
      'Host',
      'X-Ldc-Uid',
      'X-Ldc-Zone',
      'X-Ldc-Hop',
      'X-Forwarded-For',
      'X-Forwarded-Proto',
      'X-Forwarded',
      'X-Real-IP',
      'Forwarded',
      'Cookie',
      'Content-Length',
      'Transfer-Encoding',
      'Connection',
      'Keep-Alive',
      'TE',
      'Upgrade',
      'Expect',
      'X-Request-Id',
      'Traceparent',
      'Accept',
      'User-Agent',
      'X-A',
      'X',
      'Proxy-Authorization',
    ];
    const { rnd, fields } = randomHeads(0x1b873593);
    const values: Record<string, () => string> = {
      'x-ldc-uid': () => ['42', '%E7%94%A8', '\xe7\x94\xa8', '\xff', '%zz', 'u-9'][rnd(6)]!,
      cookie: () => ['ldc=v.1.rz01.NDI.mac', 'a=1; ldc="q"', 'xldc=1', 'ldc='][rnd(4)]!,
      'content-length': () => ['0', '5', '12'][rnd(3)]!,
    };
    for (let k = 0; k < 3000; k++) check(fields(pool, 11, (lower) => values[lower]?.()));
  });
});

describe('upstream request head as bytes', () => {
  /** The head as HTTP/1.1 text spells it: `name: value` lines. */
  const textHead = (method: string, path: string, headers: readonly string[]): Buffer => {
    let h = `${method} ${path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) h += `${headers[i]}: ${headers[i + 1]}\r\n`;
    return Buffer.from(`${h}\r\n`, 'latin1');
  };

  it('is the text head, byte for byte, with no client lines kept', () => {
    const headers = [
      'host',
      'gw.example',
      'x-ldc-zone',
      'rz01',
      'x-ldc-uid',
      '%E7%94%A8',
      'x-other',
      'caf\xe9',
    ];
    assert.deepEqual(
      requestHeadBytes('GET', '/a?b=%20', NO_KEPT_LINES, headers, null),
      textHead('GET', '/a?b=%20', headers),
    );
  });

  it("writes the trace's x-request-id and traceparent as pushUpstreamHeaders adds them", () => {
    for (const [requestId, traceparent] of [
      [undefined, undefined],
      ['client-id-7', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
      ['x'.repeat(128), '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-more'],
    ] as const) {
      const trace = new RequestTrace(
        { socket: new Socket() } as unknown as IncomingMessage,
        requestId,
        traceparent,
        'h',
        0,
      );
      const headers = ['host', 'h'];
      const withTrace = [...headers];
      trace.pushUpstreamHeaders(withTrace);
      assert.deepEqual(
        requestHeadBytes('HEAD', '/t', NO_KEPT_LINES, headers, trace),
        textHead('HEAD', '/t', withTrace),
      );
    }
  });

  it("puts the client's kept lines, as sent, between the request line and the gateway's fields", () => {
    const text = 'GET /x HTTP/1.1\r\nHost: h\r\nAccept:  */*\r\nConnection: close\r\nX-A:1\r\n\r\n';
    const buf = Buffer.from(text, 'latin1');
    const head = parseRequestHead(buf, 1 << 16);
    assert.ok(head !== null && head.rejected === undefined);
    const scan = new RequestFieldScan();
    scan.scan(buf, head.fields, 'x-ldc-uid', 'ldc');
    const out = requestHeadBytes('GET', '/x', scan, ['host', 'h', 'x-ldc-zone', 'rz01'], null);
    assert.equal(
      out.toString('latin1'),
      'GET /x HTTP/1.1\r\nAccept:  */*\r\nX-A:1\r\nhost: h\r\nx-ldc-zone: rz01\r\n\r\n',
    );
  });
});
