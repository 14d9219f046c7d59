/**
 * One pass over a request's raw headers: pick out what routing needs (uid header, zone
 * cookie, hop marker, body framing) and collect what goes upstream, dropping hop-by-hop
 * headers (RFC 9110 §7.6.1) and every client-sent `x-ldc-*` / `x-forwarded-*` header (the
 * gateway sets its own). No header object, no regex: this runs for every request.
 */

/** RFC 9110 §7.6.1 connection-specific fields, plus HTTP/2's (RFC 9113 §8.2.2). */
const HOP_BY_HOP = new Set([
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
]);

export interface ScannedRequest {
  /** Upstream-bound headers, flat [name, value, ...] as the client spelled them. */
  readonly out: string[];
  uid: string | undefined;
  /** Zone cookie value, if the Cookie header(s) carry one. */
  cookie: string | undefined;
  /** Value of `x-ldc-hop` (only trusted from a peer gateway). */
  hop: string | undefined;
  /** Client `x-forwarded-*` headers, kept aside: forwarded only for a trusted hop. */
  forwarded: string[] | null;
  host: string | undefined;
  contentLength: number;
  chunked: boolean;
  /** Names listed in `Connection:` (RFC 9110 §7.6.1: also hop-by-hop). */
  connectionTokens: string | undefined;
  upgrade: string | undefined;
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

export function scanRequestHeaders(
  raw: readonly string[],
  uidHeader: string,
  cookieName: string,
): ScannedRequest {
  const s: ScannedRequest = {
    out: [],
    uid: undefined,
    cookie: undefined,
    hop: undefined,
    forwarded: null,
    host: undefined,
    contentLength: -1,
    chunked: false,
    connectionTokens: undefined,
    upgrade: undefined,
    requestId: undefined,
    traceparent: undefined,
  };
  const out = s.out;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are not headers upstream.
    if (name.charCodeAt(0) === 0x3a) {
      if (name === ':authority') s.host = value;
      continue;
    }
    const lower = name.toLowerCase();
    // The uid header is configurable and need not start with x-: check it first.
    if (lower === uidHeader) {
      s.uid = value;
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
      if (lower === 'x-request-id') {
        s.requestId = value;
        continue;
      }
    } else if (lower === 'traceparent') {
      s.traceparent = value;
      continue;
    } else if (lower === 'cookie') {
      if (s.cookie === undefined) s.cookie = findCookie(value, cookieName);
    } else if (lower === 'host') {
      s.host = value;
    } else if (lower === 'content-length') {
      s.contentLength = Number(value);
    } else if (HOP_BY_HOP.has(lower)) {
      if (lower === 'transfer-encoding') s.chunked = true;
      else if (lower === 'connection') s.connectionTokens = value;
      else if (lower === 'upgrade') s.upgrade = value;
      continue;
    }
    out.push(name, value);
  }
  if (s.connectionTokens !== undefined) dropConnectionTokens(s);
  return s;
}

function dropConnectionTokens(s: ScannedRequest): void {
  const tokens = new Set(
    s
      .connectionTokens!.split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== '' && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade'),
  );
  if (tokens.size === 0) return;
  const out = s.out;
  for (let i = out.length - 2; i >= 0; i -= 2) {
    if (tokens.has(out[i]!.toLowerCase())) out.splice(i, 2);
  }
}

/**
 * Response headers for the client: hop-by-hop dropped (and h2 forbids them), the upstream's
 * `x-ldc-uid` taken out (it becomes the cookie). Returns the uid, or undefined.
 */
export function filterResponseHeaders(
  raw: readonly Buffer[],
  out: string[],
  uidHeader: string,
): string | undefined {
  let uid: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (lower === uidHeader) {
      uid = raw[i + 1]!.toString('utf8');
      continue;
    }
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  return uid;
}
