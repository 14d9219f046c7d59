/**
 * The one place that decides whether a request is well-formed enough to route and forward,
 * before anything is routed or any upstream connection is touched. Whatever passes here is
 * something the upstream client (undici) accepts and an upstream parses the way we did;
 * whatever does not gets a 400 from the gateway itself, and no upstream is ever blamed for it.
 */
import type { UidHeaderInvalidError } from '../identity/index.js';
import { BadRequestError } from './errors.js';
import type { ScannedRequest } from './headers.js';

/** A request the gateway will forward: the path to send and the one Host to send with it. */
export interface CheckedTarget {
  /** Origin-form target (`/path?query`). */
  path: string;
  /** Host for the upstream request (`undefined`: an HTTP/1.0 request without one). */
  host: string | undefined;
}

function bad(message: string): BadRequestError {
  return new BadRequestError(message);
}

/**
 * `url` is the request target as received; `h2` whether it came over HTTP/2 (then `version` is
 * ignored). Returns the target to forward, or the 400 to answer.
 */
export function checkRequest(
  method: string,
  url: string,
  version: string,
  h2: boolean,
  s: ScannedRequest,
  out: CheckedTarget,
): BadRequestError | UidHeaderInvalidError | null {
  if (!h2 && version !== '1.1' && version !== '1.0') {
    // Node's HTTP/1 parser accepts any digit pair; h2 is spoken only after ALPN.
    return bad(`HTTP/${version} is not spoken on an HTTP/1 connection`);
  }
  if (method === 'CONNECT') return bad('CONNECT is not supported');
  if (s.hosts > 1) return bad('more than one Host header');
  // A uid that is not UTF-8 would be hashed from a guess: refuse it rather than misroute.
  if (s.uidError !== null) return s.uidError;
  if (!(s.contentLength >= -1 && Number.isSafeInteger(s.contentLength))) {
    return bad('invalid Content-Length');
  }
  let host = s.host;
  if (h2) {
    // RFC 9113 §8.3.1: a Host beside :authority must name the same thing.
    if (s.authority !== undefined) {
      if (host !== undefined && host !== s.authority) return bad('host header differs from :authority');
      host = s.authority;
    }
  } else if (host === undefined && version === '1.1') {
    return bad('HTTP/1.1 request without Host');
  }
  const c = url.charCodeAt(0);
  if (c === 0x2f /* / */) {
    out.path = url;
  } else if (url === '*') {
    return bad(`${method} * is answered by each server itself, not forwarded`);
  } else {
    // Absolute form (RFC 9112 §3.2.2): route and forward on the path; its authority is the host.
    const scheme = url.indexOf('://');
    const name = scheme > 0 ? url.slice(0, scheme).toLowerCase() : '';
    if (name !== 'http' && name !== 'https')
      return bad('request target is neither a path nor an http(s) URL');
    const start = scheme + 3;
    let end = start;
    while (end < url.length) {
      const ch = url.charCodeAt(end);
      if (ch === 0x2f || ch === 0x3f /* ? */ || ch === 0x23 /* # */) break;
      end++;
    }
    const authority = url.slice(start, end);
    if (authority === '' || authority.includes('@')) return bad('request target has no usable authority');
    host = authority;
    const rest = url.slice(end);
    out.path = rest.charCodeAt(0) === 0x2f ? rest : `/${rest}`;
  }
  out.host = host;
  return null;
}
