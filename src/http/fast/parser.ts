/**
 * A strict HTTP/1.x request-head parser and chunked-body decoder over Buffers (RFC 9112, with
 * the field grammar of RFC 9110 §5). It accepts a subset of what Node's parser (llhttp)
 * accepts: anything ambiguous about where a message ends — the root of request smuggling — is
 * refused with a stable code, never repaired. A refusal is not an answer by itself: the caller
 * decides (the fast path hands refused bytes to Node's server, which answers as it always has).
 *
 * No strings are built for bytes nobody needs: fields come back as offsets into the buffer.
 */

/** Why a head or a chunked body was refused. Stable: tests and metrics key on them. */
export type HeadRejectCode =
  | 'HEAD_TOO_LARGE'
  | 'TOO_MANY_FIELDS'
  | 'BAD_METHOD'
  | 'BAD_TARGET'
  | 'BAD_VERSION'
  | 'BAD_STATUS'
  | 'BARE_LF'
  | 'BARE_CR'
  | 'OBS_FOLD'
  | 'EMPTY_FIELD_NAME'
  | 'BAD_FIELD_NAME'
  | 'WS_BEFORE_COLON'
  | 'BAD_FIELD_VALUE'
  | 'BAD_CONTENT_LENGTH'
  | 'DUPLICATE_CONTENT_LENGTH'
  | 'BAD_TRANSFER_ENCODING'
  | 'DUPLICATE_TRANSFER_ENCODING'
  | 'CONTENT_LENGTH_AND_TRANSFER_ENCODING'
  | 'TRANSFER_ENCODING_ON_HTTP10';

export type ChunkRejectCode =
  | 'BAD_CHUNK_SIZE'
  | 'CHUNK_SIZE_TOO_BIG'
  | 'BAD_CHUNK_EXT'
  | 'CHUNK_LINE_TOO_LONG'
  | 'BAD_CHUNK_END'
  | 'BAD_TRAILER'
  | 'TRAILERS_TOO_LARGE';

export interface HeadRejection {
  readonly rejected: HeadRejectCode;
  /** Offset of the offending byte (for tests and debugging). */
  readonly at: number;
}

/** How the request body is delimited (RFC 9112 §6.3): a request without either has none. */
export type Framing = 'none' | 'length' | 'chunked';

export interface RequestHead {
  readonly rejected?: undefined;
  readonly method: string;
  /** Origin-form target as received (`/path?query`). */
  readonly target: string;
  /** HTTP/1.<minor>. */
  readonly minor: 0 | 1;
  /** Per field line: name start, name end, value start, value end (OWS trimmed), offsets into the buffer. */
  readonly fields: number[];
  /** Bytes of the head, final CRLF included: the body (or the next request) starts here. */
  readonly length: number;
  readonly framing: Framing;
  /** The body length when `framing` is 'length', else -1. */
  readonly contentLength: number;
  /** `Connection: close` among the connection options. */
  readonly close: boolean;
  /** `Connection: keep-alive` among the connection options (what an HTTP/1.0 client must say). */
  readonly keepAlive: boolean;
  /** An Upgrade field, or `upgrade` among the connection options. */
  readonly upgrade: boolean;
  /** An Expect field. */
  readonly expect: boolean;
}

/** Field lines beyond this are refused (Node silently drops those past 2000; we never guess). */
export const MAX_FIELDS = 128;
/** Chunk-size line (size and extensions) bound, RFC 9112 §7.1.1 leaves it to the recipient. */
export const MAX_CHUNK_LINE = 1024;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/**
 * Origin-form bytes (RFC 9112 §3.2.1, RFC 3986 pchar / query): unreserved, sub-delims, ':', '@',
 * '/', '?', '%'. No '#', no space, no raw quotes or braces: those go to Node's parser instead.
 */
const TARGET = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=:@/?%") TARGET[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TARGET[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TARGET[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TARGET[c] = 1;

/** RFC 9110 §5.5 field-vchar (VCHAR / obs-text) plus SP and HTAB inside a value. */
const VALUE = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;
VALUE[SP] = 1;
VALUE[HTAB] = 1;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

/**
 * `buf[start, end)` equals `name` (ASCII, lower case), ignoring ASCII case: only A-Z are folded,
 * so a name with `_` or `@` (a configured uid header) compares right too.
 */
export function nameIs(buf: Buffer, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = start, j = 0; i < end; i++, j++) {
    let c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name.charCodeAt(j)) return false;
  }
  return true;
}

/**
 * The methods the fast path serves (RFC 9110 §9.3), spelled exactly (methods are
 * case-sensitive). Others — CONNECT, WebDAV, unknown tokens — are Node's to judge.
 */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];

function knownMethod(buf: Buffer, end: number): string | undefined {
  for (const m of METHODS) {
    if (m.length !== end) continue;
    let i = 0;
    while (i < end && buf[i] === m.charCodeAt(i)) i++;
    if (i === end) return m;
  }
  return undefined;
}

function reject(rejected: HeadRejectCode, at: number): HeadRejection {
  return { rejected, at };
}

/** Connection options (RFC 9110 §7.6.1): comma-separated tokens, OWS around. Returns bit flags. */
const OPT_CLOSE = 1;
const OPT_KEEP_ALIVE = 2;
const OPT_UPGRADE = 4;
function connectionOptions(buf: Buffer, start: number, end: number): number {
  let flags = 0;
  let i = start;
  while (i < end) {
    while (i < end && (buf[i] === SP || buf[i] === HTAB || buf[i] === 0x2c)) i++;
    const s = i;
    while (i < end && buf[i] !== 0x2c) i++;
    let e = i;
    while (e > s && (buf[e - 1] === SP || buf[e - 1] === HTAB)) e--;
    if (nameIs(buf, s, e, 'close')) flags |= OPT_CLOSE;
    else if (nameIs(buf, s, e, 'keep-alive')) flags |= OPT_KEEP_ALIVE;
    else if (nameIs(buf, s, e, 'upgrade')) flags |= OPT_UPGRADE;
  }
  return flags;
}

const VERSION = 'HTTP/1.';

/**
 * Whether `HTTP/1.0` or `HTTP/1.1` (case-sensitive, RFC 9112 §2.3) starts at `p`: -1 when it
 * does, else the offset of the first byte that does not fit (`end` when bytes are missing).
 */
function versionMismatch(buf: Buffer, p: number, end: number): number {
  for (let i = 0; i < 8; i++, p++) {
    if (p === end) return end;
    const c = buf[p]!;
    if (i < 7 ? c !== VERSION.charCodeAt(i) : c !== 0x30 && c !== 0x31) return p;
  }
  return -1;
}

/**
 * Parse the request head at the start of `buf`. Returns the head, a rejection, or null when
 * more bytes are needed. `maxHeadBytes` bounds the whole head (request line and CRLFs
 * included, so never looser than Node's `maxHeaderSize`): a head that does not end within it is
 * refused without waiting for more. The head's `fields` is `fields`, emptied and refilled: a
 * caller that reads the offsets at once passes one scratch array for every head.
 */
export function parseRequestHead(
  buf: Buffer,
  maxHeadBytes: number,
  fields: number[] = [],
): RequestHead | HeadRejection | null {
  const limited = buf.length > maxHeadBytes;
  const end = limited ? maxHeadBytes : buf.length;
  // Running out of bytes: more may come, unless the limit is what stopped us.
  const short = (): HeadRejection | null => (limited ? reject('HEAD_TOO_LARGE', end) : null);
  let p = 0;

  // request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3). No leading
  // empty lines, no other whitespace: §3 allows lenient parsing there, we do not.
  while (p < end && TCHAR[buf[p]!] === 1) p++;
  if (p === end) return short();
  if (buf[p] !== SP) return reject('BAD_METHOD', p);
  const method = knownMethod(buf, p);
  if (method === undefined) return reject('BAD_METHOD', 0);
  const ts = ++p;
  if (p === end) return short();
  if (buf[p] !== 0x2f /* / */) return reject('BAD_TARGET', p);
  while (p < end && TARGET[buf[p]!] === 1) {
    // pct-encoded = "%" HEXDIG HEXDIG
    if (buf[p] === 0x25) {
      if (p + 2 >= end) return short();
      if (HEX[buf[p + 1]!]! < 0 || HEX[buf[p + 2]!]! < 0) return reject('BAD_TARGET', p);
      p += 3;
      continue;
    }
    p++;
  }
  if (p === end) return short();
  if (buf[p] !== SP) return reject('BAD_TARGET', p);
  const target = buf.toString('latin1', ts, p);
  p++;
  const bad = versionMismatch(buf, p, end);
  if (bad === end) return short();
  if (bad !== -1) return reject('BAD_VERSION', bad);
  const minor = buf[p + 7] === 0x31 ? 1 : 0;
  p += 8;
  if (p === end) return short();
  if (buf[p] === LF) return reject('BARE_LF', p);
  if (buf[p] !== CR) return reject('BAD_VERSION', p);
  p++;
  if (p === end) return short();
  if (buf[p] !== LF) return reject('BARE_CR', p);
  p++;

  const f = scanFields(buf, p, end, limited, fields);
  if (f === null || f.rejected !== undefined) return f;
  // RFC 9112 §6.1: an HTTP/1.0 recipient cannot know chunked; a 1.0 message saying it is suspect.
  if (f.te && minor === 0) return reject('TRANSFER_ENCODING_ON_HTTP10', 0);
  return {
    method,
    target,
    minor,
    fields: f.fields,
    length: f.length,
    framing: f.te ? 'chunked' : f.contentLength !== -1 ? 'length' : 'none',
    contentLength: f.contentLength,
    close: (f.options & OPT_CLOSE) !== 0,
    keepAlive: (f.options & OPT_KEEP_ALIVE) !== 0,
    upgrade: f.upgrade || (f.options & OPT_UPGRADE) !== 0,
    expect: f.expect,
  };
}

/** The field section of a head, read by scanFields. */
interface ScannedFields {
  readonly rejected?: undefined;
  readonly fields: number[];
  /** Offset just past the empty line that ends the head. */
  readonly length: number;
  readonly contentLength: number;
  /** `Transfer-Encoding: chunked` (the only one accepted). */
  readonly te: boolean;
  readonly options: number;
  readonly upgrade: boolean;
  readonly expect: boolean;
}

/**
 * The field lines from `p` to the empty line, for requests and responses alike (RFC 9112 §5,
 * RFC 9110 §5.5), and the fields that decide framing. Null: more bytes are needed.
 */
function scanFields(
  buf: Buffer,
  p: number,
  end: number,
  limited: boolean,
  fields: number[],
): ScannedFields | HeadRejection | null {
  const short = (): HeadRejection | null => (limited ? reject('HEAD_TOO_LARGE', end) : null);
  // Written by index and cut to length at the end: `length = 0` then push would give the
  // array a new backing store for every head (V8 trims it), which is garbage per request.
  let n = 0;
  let contentLength = -1;
  let te = false;
  let options = 0;
  let upgrade = false;
  let expect = false;
  for (;;) {
    if (p === end) return short();
    const c = buf[p]!;
    if (c === CR) {
      if (p + 1 === end) return short();
      if (buf[p + 1] !== LF) return reject('BARE_CR', p + 1);
      p += 2;
      break;
    }
    if (c === LF) return reject('BARE_LF', p);
    // RFC 9112 §5.2: obs-fold is refused; whitespace before the first field line too (§2.2).
    if (c === SP || c === HTAB) return reject('OBS_FOLD', p);
    if (n === MAX_FIELDS * 4) return reject('TOO_MANY_FIELDS', p);
    const ns = p;
    while (p < end && TCHAR[buf[p]!] === 1) p++;
    if (p === end) return short();
    const ne = p;
    if (buf[p] !== COLON) {
      // RFC 9112 §5.1: no whitespace between the field name and the colon.
      if (buf[p] === SP || buf[p] === HTAB) return reject('WS_BEFORE_COLON', p);
      return reject('BAD_FIELD_NAME', p);
    }
    if (ne === ns) return reject('EMPTY_FIELD_NAME', p);
    p++;
    while (p < end && (buf[p] === SP || buf[p] === HTAB)) p++;
    const vs = p;
    let ve = p;
    while (p < end && VALUE[buf[p]!] === 1) {
      if (buf[p] !== SP && buf[p] !== HTAB) ve = p + 1;
      p++;
    }
    if (p === end) return short();
    if (buf[p] === LF) return reject('BARE_LF', p);
    if (buf[p] !== CR) return reject('BAD_FIELD_VALUE', p);
    if (p + 1 === end) return short();
    if (buf[p + 1] !== LF) return reject('BARE_CR', p + 1);
    p += 2;
    fields[n] = ns;
    fields[n + 1] = ne;
    fields[n + 2] = vs;
    fields[n + 3] = ve;
    n += 4;

    // The fields that decide framing and whether this is an ordinary exchange.
    switch (ne - ns) {
      case 14:
        if (nameIs(buf, ns, ne, 'content-length')) {
          // RFC 9112 §6.3: a list or a repeat could be read two ways; one plain number only.
          if (contentLength !== -1) return reject('DUPLICATE_CONTENT_LENGTH', ns);
          if (ve === vs || ve - vs > 15) return reject('BAD_CONTENT_LENGTH', vs);
          let n = 0;
          for (let i = vs; i < ve; i++) {
            const d = buf[i]! - 0x30;
            if (d < 0 || d > 9) return reject('BAD_CONTENT_LENGTH', i);
            n = n * 10 + d;
          }
          contentLength = n;
        }
        break;
      case 17:
        if (nameIs(buf, ns, ne, 'transfer-encoding')) {
          // Only `chunked` alone (any case, RFC 9112 §7): no list, no other coding, no
          // trailing whitespace, no second line — every TE.TE obfuscation is one of those.
          if (te) return reject('DUPLICATE_TRANSFER_ENCODING', ns);
          te = true;
          if (!nameIs(buf, vs, ve, 'chunked') || buf[ve] !== CR) return reject('BAD_TRANSFER_ENCODING', vs);
        }
        break;
      case 10:
        if (nameIs(buf, ns, ne, 'connection')) options |= connectionOptions(buf, vs, ve);
        break;
      case 7:
        if (nameIs(buf, ns, ne, 'upgrade')) upgrade = true;
        break;
      case 6:
        if (nameIs(buf, ns, ne, 'expect')) expect = true;
        break;
      default:
        break;
    }
  }
  if (te && contentLength !== -1) return reject('CONTENT_LENGTH_AND_TRANSFER_ENCODING', 0);
  fields.length = n;
  return { fields, length: p, contentLength, te, options, upgrade, expect };
}

/** How an upstream's response body is delimited (RFC 9112 §6.3), before the request method is known. */
export type ResponseFraming = 'length' | 'chunked' | 'close';

export interface ResponseHead {
  readonly rejected?: undefined;
  readonly status: number;
  /** HTTP/1.<minor>. */
  readonly minor: 0 | 1;
  /** Per field line: name start, name end, value start, value end, offsets into the buffer. */
  readonly fields: number[];
  /** Bytes of the head from `start`, final CRLF included. */
  readonly length: number;
  /** For a response that has a body at all (not to HEAD, not 1xx / 204 / 304: the caller knows). */
  readonly framing: ResponseFraming;
  readonly contentLength: number;
  /** The connection may carry another exchange after this one (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
}

/**
 * Parse a response head (status line and fields) starting at `buf[start]`, as strictly as a
 * request head: an upstream's framing is trusted no more than a client's, since a response
 * read two ways desynchronises the connection for the next request. The reason phrase may be
 * empty or missing (`HTTP/1.1 200`), which servers send and RFC 9112 §4 lets clients ignore.
 * `fields` as for parseRequestHead.
 */
export function parseResponseHead(
  buf: Buffer,
  start: number,
  maxHeadBytes: number,
  fields: number[] = [],
): ResponseHead | HeadRejection | null {
  const limited = buf.length - start > maxHeadBytes;
  const end = limited ? start + maxHeadBytes : buf.length;
  const short = (): HeadRejection | null => (limited ? reject('HEAD_TOO_LARGE', end) : null);
  let p = start;
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
  const bad = versionMismatch(buf, p, end);
  if (bad === end) return short();
  if (bad !== -1) return reject('BAD_VERSION', bad);
  const minor = buf[p + 7] === 0x31 ? 1 : 0;
  p += 8;
  if (p === end) return short();
  if (buf[p] !== SP) return reject('BAD_VERSION', p);
  p++;
  let status = 0;
  for (let i = 0; i < 3; i++, p++) {
    if (p === end) return short();
    const d = buf[p]! - 0x30;
    if (d < 0 || d > 9) return reject('BAD_STATUS', p);
    status = status * 10 + d;
  }
  if (status < 100) return reject('BAD_STATUS', p - 3);
  if (p === end) return short();
  if (buf[p] === SP) {
    p++;
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    while (p < end && VALUE[buf[p]!] === 1) p++;
  }
  if (p === end) return short();
  if (buf[p] === LF) return reject('BARE_LF', p);
  if (buf[p] !== CR) return reject('BAD_STATUS', p);
  p++;
  if (p === end) return short();
  if (buf[p] !== LF) return reject('BARE_CR', p);
  p++;
  const f = scanFields(buf, p, end, limited, fields);
  if (f === null || f.rejected !== undefined) return f;
  if (f.te && minor === 0) return reject('TRANSFER_ENCODING_ON_HTTP10', 0);
  const close = (f.options & OPT_CLOSE) !== 0;
  const framing: ResponseFraming = f.te ? 'chunked' : f.contentLength !== -1 ? 'length' : 'close';
  return {
    status,
    minor,
    fields: f.fields,
    length: f.length - start,
    framing,
    contentLength: f.contentLength,
    keepAlive: minor === 1 ? !close : (f.options & OPT_KEEP_ALIVE) !== 0 && !close,
  };
}

/** Names and values as strings, flat `[name, value, …]` as Node's `rawHeaders` spells them. */
export function rawFields(buf: Buffer, head: { readonly fields: number[] }): string[] {
  const f = head.fields;
  const out = new Array<string>(f.length / 2);
  for (let i = 0, j = 0; i < f.length; i += 4, j += 2) {
    out[j] = buf.toString('latin1', f[i], f[i + 1]);
    out[j + 1] = buf.toString('latin1', f[i + 2], f[i + 3]);
  }
  return out;
}

/** Names and values of `head`'s fields as views of `buf` (no copy), flat `[name, value, …]`. */
export function rawFieldViews(buf: Buffer, fields: readonly number[]): Buffer[] {
  const out = new Array<Buffer>(fields.length / 2);
  for (let i = 0, j = 0; i < fields.length; i += 4, j += 2) {
    out[j] = buf.subarray(fields[i], fields[i + 1]);
    out[j + 1] = buf.subarray(fields[i + 2], fields[i + 3]);
  }
  return out;
}

/** Where chunk data goes: ranges of the fed buffer, framing stripped. */
export interface ChunkSink {
  chunkData(buf: Buffer, start: number, end: number): void;
}

// Decoder states (RFC 9112 §7.1).
const S_SIZE_FIRST = 0;
const S_SIZE = 1;
const S_EXT_NAME_FIRST = 2;
const S_EXT_NAME = 3;
const S_EXT_VALUE_FIRST = 4;
const S_EXT_TOKEN = 5;
const S_EXT_QUOTED = 6;
const S_EXT_QUOTED_PAIR = 7;
const S_EXT_AFTER_QUOTED = 8;
const S_SIZE_LF = 9;
const S_DATA = 10;
const S_DATA_CR = 11;
const S_DATA_LF = 12;
const S_TRAILER_LINE = 13;
const S_TRAILER_NAME = 14;
const S_TRAILER_VALUE = 15;
const S_TRAILER_LF = 16;
const S_END_LF = 17;
const S_DONE = 18;

/** 16^13 > 2^52: more significant hex digits than this could not be a safe integer. */
const MAX_SIZE_DIGITS = 13;

/**
 * Streaming decoder for a chunked body (a client's request, an upstream's response). Chunk sizes are hex digits only with no sign,
 * no whitespace and no overflow; extensions are `;name[=token|quoted-string]` with no BWS and
 * the whole size line bounded; every line ends in exactly CRLF; trailer fields follow the field
 * grammar and are bounded. Extensions and trailers are validated and dropped: the body is
 * re-framed by whoever sends it on.
 */
export class ChunkedDecoder {
  #state = S_SIZE_FIRST;
  #size = 0;
  #digits = 0;
  #line = 0;
  #trailerBytes = 0;
  readonly #maxTrailerBytes: number;
  /** Body bytes decoded so far (framing excluded): what a body limit counts. */
  dataBytes = 0;

  constructor(maxTrailerBytes: number) {
    this.#maxTrailerBytes = maxTrailerBytes;
  }

  get done(): boolean {
    return this.#state === S_DONE;
  }

  /** The size of the chunk being read (its data may still be coming); for early body-limit checks. */
  get chunkSize(): number {
    return this.#size;
  }

  /**
   * Decode `buf[start, end)`. Returns the offset where decoding stopped: `end`, or earlier when
   * the body ended there (the rest is the next request); or the rejection.
   */
  feed(buf: Buffer, start: number, end: number, sink: ChunkSink): number | ChunkRejectCode {
    let p = start;
    let state = this.#state;
    while (p < end && state !== S_DONE) {
      if (state === S_DATA) {
        const n = Math.min(this.#size, end - p);
        sink.chunkData(buf, p, p + n);
        this.dataBytes += n;
        this.#size -= n;
        p += n;
        if (this.#size === 0) state = S_DATA_CR;
        continue;
      }
      const c = buf[p]!;
      p++;
      if (state <= S_EXT_AFTER_QUOTED && ++this.#line > MAX_CHUNK_LINE) {
        this.#state = state;
        return 'CHUNK_LINE_TOO_LONG';
      }
      switch (state) {
        case S_SIZE_FIRST:
        case S_SIZE: {
          const h = HEX[c]!;
          if (h >= 0) {
            if (this.#digits > 0 || h > 0) {
              if (++this.#digits > MAX_SIZE_DIGITS) return 'CHUNK_SIZE_TOO_BIG';
            }
            this.#size = this.#size * 16 + h;
            state = S_SIZE;
          } else if (state === S_SIZE_FIRST) {
            return 'BAD_CHUNK_SIZE';
          } else if (c === 0x3b /* ; */) {
            state = S_EXT_NAME_FIRST;
          } else if (c === CR) {
            state = S_SIZE_LF;
          } else {
            return 'BAD_CHUNK_SIZE';
          }
          break;
        }
        case S_EXT_NAME_FIRST:
          if (TCHAR[c] !== 1) return 'BAD_CHUNK_EXT';
          state = S_EXT_NAME;
          break;
        case S_EXT_NAME:
        case S_EXT_TOKEN:
        case S_EXT_AFTER_QUOTED:
          if (c === 0x3b) state = S_EXT_NAME_FIRST;
          else if (c === CR) state = S_SIZE_LF;
          else if (c === 0x3d /* = */ && state === S_EXT_NAME) state = S_EXT_VALUE_FIRST;
          else if (TCHAR[c] !== 1 || state === S_EXT_AFTER_QUOTED) return 'BAD_CHUNK_EXT';
          break;
        case S_EXT_VALUE_FIRST:
          if (c === 0x22 /* " */) state = S_EXT_QUOTED;
          else if (TCHAR[c] === 1) state = S_EXT_TOKEN;
          else return 'BAD_CHUNK_EXT';
          break;
        case S_EXT_QUOTED:
          // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4)
          if (c === 0x22) state = S_EXT_AFTER_QUOTED;
          else if (c === 0x5c /* \ */) state = S_EXT_QUOTED_PAIR;
          else if (VALUE[c] !== 1) return 'BAD_CHUNK_EXT';
          break;
        case S_EXT_QUOTED_PAIR:
          if (VALUE[c] !== 1) return 'BAD_CHUNK_EXT';
          state = S_EXT_QUOTED;
          break;
        case S_SIZE_LF:
          if (c !== LF) return 'BAD_CHUNK_SIZE';
          this.#line = 0;
          this.#digits = 0;
          state = this.#size === 0 ? S_TRAILER_LINE : S_DATA;
          break;
        case S_DATA_CR:
          if (c !== CR) return 'BAD_CHUNK_END';
          state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (c !== LF) return 'BAD_CHUNK_END';
          state = S_SIZE_FIRST;
          break;
        default:
          // Trailer section (RFC 9112 §7.1.2): field lines, then an empty line.
          if (++this.#trailerBytes > this.#maxTrailerBytes) return 'TRAILERS_TOO_LARGE';
          switch (state) {
            case S_TRAILER_LINE:
              if (c === CR) state = S_END_LF;
              else if (TCHAR[c] === 1) state = S_TRAILER_NAME;
              else return 'BAD_TRAILER';
              break;
            case S_TRAILER_NAME:
              if (c === COLON) state = S_TRAILER_VALUE;
              else if (TCHAR[c] !== 1) return 'BAD_TRAILER';
              break;
            case S_TRAILER_VALUE:
              if (c === CR) state = S_TRAILER_LF;
              else if (VALUE[c] !== 1) return 'BAD_TRAILER';
              break;
            case S_TRAILER_LF:
              if (c !== LF) return 'BAD_TRAILER';
              state = S_TRAILER_LINE;
              break;
            case S_END_LF:
              if (c !== LF) return 'BAD_TRAILER';
              state = S_DONE;
              break;
            default:
              return 'BAD_TRAILER';
          }
      }
    }
    this.#state = state;
    return p;
  }
}
