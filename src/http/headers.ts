/**
 * One pass over a request's raw headers: pick out what routing and the request check need
 * (uid header, zone cookie, hop marker, host, body framing, expectation) and collect what goes
 * upstream, dropping hop-by-hop headers (RFC 9110 §7.6.1), every client-sent `x-ldc-*` /
 * `x-forwarded-*` header and every other client-address header (`Forwarded`, `X-Real-IP`, …):
 * the gateway states the client address itself. No header object, no regex: this runs for
 * every request.
 *
 * The uid header is read by its bytes (src/identity/uid-header.ts): Node gives header values
 * as latin1, so a UTF-8 uid is decoded here, once, or refused (400) when it is not UTF-8.
 */
import { readUidBytes, readUidHeader, UidHeaderInvalidError } from '../identity/index.js';
import { nameIs } from './fast/parser.js';

export { encodeUidHeader } from '../identity/index.js';

/** What the scan does with a header, by lower-cased name; absent: forwarded as is. */
const HOP_BY_HOP = 1;
const CONNECTION = 2;
const TRANSFER_ENCODING = 3;
const UPGRADE = 4;
const HOST = 5;
const CONTENT_LENGTH = 6;
const COOKIE = 7;
const EXPECT = 8;
/** A client's claim about its own address: never believed, never forwarded. */
const CLIENT_ADDRESS = 9;
/** The client's request id and trace context: captured, and replaced by ours upstream (request-trace.ts). */
const REQUEST_ID = 10;
const TRACEPARENT = 11;

const KINDS = new Map<string, number>([
  // RFC 9110 §7.6.1 connection-specific fields, plus HTTP/2's (RFC 9113 §8.2.2).
  ['connection', CONNECTION],
  ['keep-alive', HOP_BY_HOP],
  ['proxy-connection', HOP_BY_HOP],
  ['proxy-authenticate', HOP_BY_HOP],
  ['proxy-authorization', HOP_BY_HOP],
  ['te', HOP_BY_HOP],
  ['trailer', HOP_BY_HOP],
  ['transfer-encoding', TRANSFER_ENCODING],
  ['upgrade', UPGRADE],
  ['http2-settings', HOP_BY_HOP],
  ['host', HOST],
  ['content-length', CONTENT_LENGTH],
  ['cookie', COOKIE],
  // The gateway answers `Expect: 100-continue` itself (it decides whether the body is wanted).
  ['expect', EXPECT],
  ['forwarded', CLIENT_ADDRESS],
  ['x-forwarded', CLIENT_ADDRESS],
  ['x-real-ip', CLIENT_ADDRESS],
  ['x-client-ip', CLIENT_ADDRESS],
  ['x-cluster-client-ip', CLIENT_ADDRESS],
  ['x-originating-ip', CLIENT_ADDRESS],
  ['x-remote-ip', CLIENT_ADDRESS],
  ['x-remote-addr', CLIENT_ADDRESS],
  ['x-true-client-ip', CLIENT_ADDRESS],
  ['true-client-ip', CLIENT_ADDRESS],
  ['client-ip', CLIENT_ADDRESS],
  ['cf-connecting-ip', CLIENT_ADDRESS],
  ['fastly-client-ip', CLIENT_ADDRESS],
  ['akamai-client-ip', CLIENT_ADDRESS],
  ['x-request-id', REQUEST_ID],
  ['traceparent', TRACEPARENT],
]);

/** Response fields that never go back to the client (hop-by-hop; HTTP/2 forbids them). */
const RESPONSE_DROPPED: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
];

/** RESPONSE_DROPPED by name length: a field name is compared as bytes with the few of its length. */
const DROPPED_BY_LENGTH: (string[] | undefined)[] = [];
for (const n of RESPONSE_DROPPED) (DROPPED_BY_LENGTH[n.length] ??= []).push(n);

/** The RESPONSE_DROPPED name `buf[start…end)` is, or undefined. */
function droppedName(buf: Buffer, start: number, end: number): string | undefined {
  const candidates = DROPPED_BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  for (const n of candidates) if (nameIs(buf, start, end, n)) return n;
  return undefined;
}

/** `named` with the field names one more `Connection:` value lists (connectionFieldNames). */
function addConnectionNames(named: Set<string> | null, value: string): Set<string> | null {
  const more = connectionFieldNames(value);
  if (more === null) return named;
  return named === null ? more : new Set([...named, ...more]);
}

/**
 * The kept field lines of a head as byte ranges of the buffer it was read into, to be copied
 * out as the peer sent them, with no string per field: runs of consecutive kept lines, from the
 * first name to the last value, without their final CRLF. One per connection, refilled per head.
 */
class FieldRuns {
  /** `[start, end, …]` into the head. */
  readonly runs: number[] = [];
  /** Bytes in the runs, a CRLF after each included. */
  bytes = 0;
  /**
   * Per field: kept. Scratch written by index, so it keeps its backing store between heads
   * (`length = 0` then push would give V8 a new one every time).
   */
  protected readonly keep: boolean[] = [];
  /** The head the runs point into, until copyRuns(). */
  #src: Buffer | null = null;

  /**
   * The runs of `buf`'s fields that `keep` marks, less those the `Connection` field names
   * (`named`, lower case) — marked unkept in `keep` as well.
   */
  protected collectRuns(buf: Buffer, fields: readonly number[], named: Set<string> | null): void {
    this.#src = buf;
    const keep = this.keep;
    const runs = this.runs;
    let n = 0;
    let bytes = 0;
    let open = false;
    for (let i = 0, k = 0; i < fields.length; i += 4, k++) {
      const ns = fields[i]!;
      if (
        keep[k] === true &&
        named !== null &&
        named.has(buf.toString('latin1', ns, fields[i + 1]).toLowerCase())
      )
        keep[k] = false;
      if (keep[k] !== true) {
        open = false;
        continue;
      }
      const ve = fields[i + 3]!;
      if (open) {
        // The next line of the same run: the CRLF between them is in the run.
        bytes += ve - runs[n - 1]!;
        runs[n - 1] = ve;
      } else {
        runs[n] = ns;
        runs[n + 1] = ve;
        n += 2;
        bytes += ve - ns + 2;
        open = true;
      }
    }
    runs.length = n;
    this.bytes = bytes;
  }

  /** Copy the kept field lines, a CRLF after each run, into `out` at `o` (`bytes` of them); returns the end. */
  copyRuns(out: Buffer, o: number): number {
    const src = this.#src!;
    this.#src = null;
    const runs = this.runs;
    for (let i = 0; i < runs.length; i += 2) {
      o += src.copy(out, o, runs[i], runs[i + 1]);
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    }
    return o;
  }
}

/**
 * The value `buf[start…end)` of a Connection field is one of CONNECTION_OPTION_NAMES (what nearly
 * every peer sends): it names no field, and no string is made to find that out.
 */
function namesNoField(buf: Buffer, start: number, end: number): boolean {
  for (let i = 0; i < CONNECTION_OPTION_NAMES.length; i++)
    if (nameIs(buf, start, end, CONNECTION_OPTION_NAMES[i]!)) return true;
  return false;
}

/**
 * filterResponseHeaders' rules applied to a response head's bytes, for an HTTP/1.1 client: the
 * kept field lines are found as byte ranges, to be copied as the upstream sent them.
 */
export class ResponseFieldScan extends FieldRuns {
  /** The upstream's `x-ldc-uid` (decoded), taken out of the response. */
  uid: string | undefined = undefined;
  hasDate = false;
  hasLength = false;

  /** Fill from a response head in `buf`: `fields` as parseResponseHead gives them. */
  scan(buf: Buffer, fields: readonly number[], uidHeader: string): void {
    const keep = this.keep;
    this.uid = undefined;
    let named: Set<string> | null = null;
    // A field's name decides whether it is kept, so one Date (Content-Length) field tells for all.
    let dateAt = -1;
    let lengthAt = -1;
    for (let i = 0, k = 0; i < fields.length; i += 4, k++) {
      const ns = fields[i]!;
      const ne = fields[i + 1]!;
      const dropped = droppedName(buf, ns, ne);
      if (dropped !== undefined) {
        const vs = fields[i + 2]!;
        const ve = fields[i + 3]!;
        if (dropped === 'connection' && !namesNoField(buf, vs, ve))
          named = addConnectionNames(named, buf.toString('latin1', vs, ve));
        keep[k] = false;
      } else if (nameIs(buf, ns, ne, uidHeader)) {
        const r = readUidBytes(buf.subarray(fields[i + 2], fields[i + 3]));
        this.uid = r.ok ? r.uid : undefined;
        keep[k] = false;
      } else {
        keep[k] = true;
        if (nameIs(buf, ns, ne, 'date')) dateAt = k;
        else if (nameIs(buf, ns, ne, 'content-length')) lengthAt = k;
      }
    }
    this.collectRuns(buf, fields, named);
    this.hasDate = dateAt >= 0 && keep[dateAt] === true;
    this.hasLength = lengthAt >= 0 && keep[lengthAt] === true;
  }
}

export interface ScannedRequest {
  /** Upstream-bound end-to-end headers, flat [name, value, ...] as the client spelled them (no Host). */
  readonly out: string[];
  /** The uid header, decoded (UTF-8, percent-escapes); undefined when absent or unreadable. */
  uid: string | undefined;
  /** The uid header was there but is not UTF-8 (the request check answers 400). */
  uidError: UidHeaderInvalidError | null;
  /** Zone cookie value, if the Cookie header(s) carry one. */
  cookie: string | undefined;
  /** Value of `x-ldc-hop` (only trusted from a peer gateway). */
  hop: string | undefined;
  /** Client `x-forwarded-*` headers, kept aside: forwarded only for a trusted hop. */
  forwarded: string[] | null;
  /** The Host header's value (the last one when there are several: see `hosts`). */
  host: string | undefined;
  /** How many Host headers the client sent (more than one is refused). */
  hosts: number;
  /** HTTP/2 `:authority`. */
  authority: string | undefined;
  contentLength: number;
  chunked: boolean;
  /** Names listed in `Connection:` (RFC 9110 §7.6.1: also hop-by-hop). */
  connectionTokens: string | undefined;
  upgrade: string | undefined;
  expect: string | undefined;
  /** The client's `x-request-id` and `traceparent`: replaced by ours upstream (request-trace.ts). */
  requestId: string | undefined;
  traceparent: string | undefined;
}

/** `name=value` for `name` in one Cookie header (RFC 6265 §5.4 "; " separated). */
export function findCookie(header: string, name: string): string | undefined {
  let i = 0;
  while (i < header.length) {
    while (header.charCodeAt(i) === 0x20) i++;
    const end = header.indexOf(';', i);
    const stop = end === -1 ? header.length : end;
    if (header.startsWith(name, i) && header.charCodeAt(i + name.length) === 0x3d /* = */) {
      let v = header.slice(i + name.length + 1, stop).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    i = stop + 1;
  }
  return undefined;
}

function emptyScan(): ScannedRequest {
  return {
    out: [],
    uid: undefined,
    uidError: null,
    cookie: undefined,
    hop: undefined,
    forwarded: null,
    host: undefined,
    hosts: 0,
    authority: undefined,
    contentLength: -1,
    chunked: false,
    connectionTokens: undefined,
    upgrade: undefined,
    expect: undefined,
    requestId: undefined,
    traceparent: undefined,
  };
}

/** The uid header's value, decoded into the scan (or the reason it cannot be). */
function takeUid(s: ScannedRequest, value: string, uidHeader: string): void {
  const r = readUidHeader(value);
  if (r.ok) {
    s.uid = r.uid;
    s.uidError = null;
  } else {
    s.uid = undefined;
    s.uidError = new UidHeaderInvalidError(uidHeader, r.problem);
  }
}

/** What a field of a KINDS `kind` gives the scan. True: it also goes upstream as the client sent it. */
function takeKind(s: ScannedRequest, kind: number, value: string, cookieName: string): boolean {
  switch (kind) {
    case COOKIE:
      if (s.cookie === undefined) s.cookie = findCookie(value, cookieName);
      return true;
    case CONTENT_LENGTH:
      s.contentLength = Number(value);
      return true;
    case HOST:
      s.host = value;
      s.hosts++;
      return false;
    case TRANSFER_ENCODING:
      s.chunked = true;
      return false;
    case CONNECTION:
      s.connectionTokens = value;
      return false;
    case UPGRADE:
      s.upgrade = value;
      return false;
    case EXPECT:
      s.expect = value;
      return false;
    case REQUEST_ID:
      s.requestId = value;
      return false;
    case TRACEPARENT:
      s.traceparent = value;
      return false;
    default:
      // Hop-by-hop, or a client's claim about its own address.
      return false;
  }
}

export function scanRequestHeaders(
  raw: readonly string[],
  uidHeader: string,
  cookieName: string,
): ScannedRequest {
  const s = emptyScan();
  const out = s.out;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are not headers upstream.
    if (name.charCodeAt(0) === 0x3a) {
      if (name === ':authority') s.authority = value;
      continue;
    }
    const lower = name.toLowerCase();
    // The uid header is configurable and need not start with x-: check it first.
    if (lower === uidHeader) {
      takeUid(s, value, uidHeader);
      continue;
    }
    if (lower.charCodeAt(0) === 0x78 /* x */ && lower.startsWith('x-')) {
      if (lower.startsWith('x-ldc-')) {
        if (lower === 'x-ldc-hop') s.hop = value;
        continue;
      }
      if (lower.startsWith('x-forwarded-')) {
        (s.forwarded ??= []).push(name, value);
        continue;
      }
    }
    const kind = KINDS.get(lower);
    if (kind !== undefined) {
      if (takeKind(s, kind, value, cookieName)) out.push(name, value);
      continue;
    }
    out.push(name, value);
  }
  if (s.connectionTokens !== undefined) dropConnectionTokens(s);
  return s;
}

/** KINDS by name length: a field name is compared as bytes with the few of its length. */
const KINDS_BY_LENGTH: (Array<readonly [string, number]> | undefined)[] = [];
for (const [n, k] of KINDS) (KINDS_BY_LENGTH[n.length] ??= []).push([n, k]);

/** The KINDS entry for the name `buf[start…end)`, ignoring ASCII case. */
function kindOf(buf: Buffer, start: number, end: number): number | undefined {
  const candidates = KINDS_BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  for (const [n, k] of candidates) if (nameIs(buf, start, end, n)) return k;
  return undefined;
}

/** `buf[start…end)` begins with `lower` (ASCII, lower case), ignoring ASCII case. */
function startsWithName(buf: Buffer, start: number, end: number, lower: string): boolean {
  return end - start >= lower.length && nameIs(buf, start, start + lower.length, lower);
}

/**
 * scanRequestHeaders applied to an HTTP/1.1 request head's bytes (the fast path): the same
 * answers, but the client's fields that go upstream are byte ranges to copy (copyRuns) instead
 * of strings in `out`, which stays empty for the gateway's own fields. Strings are made only
 * of the values of the fields KINDS names (and of x-ldc-hop and x-forwarded-*). One per
 * connection.
 */
export class RequestFieldScan extends FieldRuns {
  /** `fields` as parseRequestHead gives them (name start, name end, value start, value end). */
  scan(buf: Buffer, fields: readonly number[], uidHeader: string, cookieName: string): ScannedRequest {
    const s = emptyScan();
    const keep = this.keep;
    for (let i = 0; i < fields.length; i += 4) {
      const ns = fields[i]!;
      const ne = fields[i + 1]!;
      const vs = fields[i + 2]!;
      const ve = fields[i + 3]!;
      // In scanRequestHeaders' order: the uid header, then x-ldc-* and x-forwarded-*, then KINDS.
      if (nameIs(buf, ns, ne, uidHeader)) {
        takeUid(s, buf.toString('latin1', vs, ve), uidHeader);
        keep[i >> 2] = false;
        continue;
      }
      if ((buf[ns]! | 0x20) === 0x78 /* x */ && buf[ns + 1] === 0x2d /* - */) {
        if (startsWithName(buf, ns, ne, 'x-ldc-')) {
          if (nameIs(buf, ns, ne, 'x-ldc-hop')) s.hop = buf.toString('latin1', vs, ve);
          keep[i >> 2] = false;
          continue;
        }
        if (startsWithName(buf, ns, ne, 'x-forwarded-')) {
          (s.forwarded ??= []).push(buf.toString('latin1', ns, ne), buf.toString('latin1', vs, ve));
          keep[i >> 2] = false;
          continue;
        }
      }
      const kind = kindOf(buf, ns, ne);
      if (kind === undefined) {
        keep[i >> 2] = true;
        continue;
      }
      // Values become strings only for KINDS fields (routing inputs, hop-by-hop fields).
      keep[i >> 2] = takeKind(s, kind, buf.toString('latin1', vs, ve), cookieName);
    }
    // Fields the client named in Connection: are hop-by-hop too (dropConnectionTokens).
    this.collectRuns(
      buf,
      fields,
      s.connectionTokens === undefined ? null : connectionFieldNames(s.connectionTokens),
    );
    return s;
  }
}

/** Connection options that name no field: `close` (RFC 9112 §9.6) and HTTP/1.0's `keep-alive`. */
const CONNECTION_OPTION_NAMES: readonly string[] = ['close', 'keep-alive'];
const CONNECTION_OPTIONS = new Set(CONNECTION_OPTION_NAMES);

/**
 * The field names a `Connection:` value lists (RFC 9110 §7.6.1: hop-by-hop, for this connection
 * only), lower-cased, without the options that name no field (`close`, `keep-alive`) and
 * without `content-length` (a sender cannot make the gateway drop the framing). Null when none.
 */
function connectionFieldNames(value: string): Set<string> | null {
  // What nearly every peer sends: nothing to split.
  if (value.length <= 10 && CONNECTION_OPTIONS.has(value.toLowerCase())) return null;
  let names: Set<string> | null = null;
  for (const raw of value.split(',')) {
    const t = raw.trim().toLowerCase();
    if (t === '' || CONNECTION_OPTIONS.has(t) || t === 'content-length') continue;
    (names ??= new Set()).add(t);
  }
  return names;
}

/**
 * Fields the client named in `Connection:` are hop-by-hop too. Host is never in `out`, and the
 * body framing field stays: a client cannot make the gateway drop what the upstream needs to
 * read the request right.
 */
function dropConnectionTokens(s: ScannedRequest): void {
  const tokens = connectionFieldNames(s.connectionTokens!);
  if (tokens === null) return;
  const out = s.out;
  for (let i = out.length - 2; i >= 0; i -= 2) {
    if (tokens.has(out[i]!.toLowerCase())) out.splice(i, 2);
  }
}

/**
 * Response headers for the client: hop-by-hop dropped (and h2 forbids them), with the fields
 * the upstream's `Connection:` names (they were for the gateway's connection, not the
 * client's), the upstream's `x-ldc-uid` taken out (it becomes the cookie). Returns the uid
 * (decoded like the request's: UTF-8, percent-escapes), or undefined, also when it is not
 * UTF-8 (no cookie then).
 */
export function filterResponseHeaders(
  raw: readonly Buffer[],
  out: string[],
  uidHeader: string,
): string | undefined {
  let uid: string | undefined;
  const start = out.length;
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    // The names compared as bytes, as ResponseFieldScan compares them.
    const name = raw[i]!;
    const dropped = droppedName(name, 0, name.length);
    if (dropped !== undefined) {
      if (dropped === 'connection') named = addConnectionNames(named, raw[i + 1]!.toString('latin1'));
      continue;
    }
    if (nameIs(name, 0, name.length, uidHeader)) {
      const r = readUidBytes(raw[i + 1]!);
      uid = r.ok ? r.uid : undefined;
      continue;
    }
    out.push(name.toString('latin1'), raw[i + 1]!.toString('latin1'));
  }
  // Usually none (`Connection: keep-alive` names no field): nothing to walk again.
  if (named !== null) {
    for (let i = out.length - 2; i >= start; i -= 2) {
      if (named.has(out[i]!.toLowerCase())) out.splice(i, 2);
    }
  }
  return uid;
}
