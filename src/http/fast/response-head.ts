/**
 * The upstream's response head, read strictly enough to know where the response ends (RFC 9112
 * §6.3) and nothing more: a head that could be framed two ways is an upstream failure (502),
 * never guessed at, so a confused upstream cannot desynchronise the client connection.
 */

export type ResponseFraming = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead {
  readonly status: number;
  /** Per field line: name start, name end, value start, value end (OWS trimmed). */
  readonly fields: number[];
  /** Bytes of the head, final CRLF included. */
  readonly length: number;
  readonly framing: ResponseFraming;
  readonly contentLength: number;
  /** The upstream connection can carry another request after this response. */
  readonly reusable: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;

const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

function nameIs(buf: Buffer, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    if ((buf[start + i]! | 0x20) !== name.charCodeAt(i)) return false;
  }
  return true;
}

function hasToken(buf: Buffer, start: number, end: number, token: string): boolean {
  let i = start;
  while (i < end) {
    while (i < end && (buf[i] === SP || buf[i] === HTAB || buf[i] === 0x2c)) i++;
    const s = i;
    while (i < end && buf[i] !== 0x2c) i++;
    let e = i;
    while (e > s && (buf[e - 1] === SP || buf[e - 1] === HTAB)) e--;
    if (nameIs(buf, s, e, token)) return true;
  }
  return false;
}

/**
 * Parse `buf[0, …)`: the head, 'bad' for a malformed or ambiguous one, null when more bytes are
 * needed. `head`: the request was HEAD (no body whatever the fields say).
 */
export function parseResponseHead(
  buf: Buffer,
  maxHeadBytes: number,
  head: boolean,
): ResponseHead | 'bad' | null {
  const limited = buf.length > maxHeadBytes;
  const end = limited ? maxHeadBytes : buf.length;
  const short = (): 'bad' | null => (limited ? 'bad' : null);
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
  if (end < 13) return short();
  if (buf.toString('latin1', 0, 7) !== 'HTTP/1.' || (buf[7] !== 0x31 && buf[7] !== 0x30) || buf[8] !== SP)
    return 'bad';
  const http11 = buf[7] === 0x31;
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return 'bad';
    status = status * 10 + d;
  }
  if (status < 100 || (buf[12] !== SP && buf[12] !== CR)) return 'bad';
  let p = 12;
  while (p < end && buf[p] !== CR && buf[p] !== LF) {
    const c = buf[p]!;
    if ((c < 0x20 && c !== HTAB) || c === 0x7f) return 'bad';
    p++;
  }
  if (p + 1 >= end) return short();
  if (buf[p] !== CR || buf[p + 1] !== LF) return 'bad';
  p += 2;
  const fields: number[] = [];
  let contentLength = -1;
  let te = false;
  let chunked = false;
  let close = !http11;
  for (;;) {
    if (p + 1 >= end) return short();
    if (buf[p] === CR) {
      if (buf[p + 1] !== LF) return 'bad';
      p += 2;
      break;
    }
    const ns = p;
    while (p < end && TCHAR[buf[p]!] === 1) p++;
    if (p === end) return short();
    if (p === ns || buf[p] !== 0x3a) return 'bad';
    const ne = p++;
    while (p < end && (buf[p] === SP || buf[p] === HTAB)) p++;
    const vs = p;
    let ve = p;
    while (p < end) {
      const c = buf[p]!;
      if (c === CR) break;
      if ((c < 0x20 && c !== HTAB) || c === 0x7f) return 'bad';
      if (c !== SP && c !== HTAB) ve = p + 1;
      p++;
    }
    if (p + 1 >= end) return short();
    if (buf[p + 1] !== LF) return 'bad';
    p += 2;
    fields.push(ns, ne, vs, ve);
    if (nameIs(buf, ns, ne, 'content-length')) {
      if (ve === vs || ve - vs > 15) return 'bad';
      let n = 0;
      for (let i = vs; i < ve; i++) {
        const d = buf[i]! - 0x30;
        if (d < 0 || d > 9) return 'bad';
        n = n * 10 + d;
      }
      if (contentLength !== -1 && contentLength !== n) return 'bad';
      contentLength = n;
    } else if (nameIs(buf, ns, ne, 'transfer-encoding')) {
      if (te) return 'bad';
      te = true;
      // Only a final `chunked` is a length we can follow; anything else reads to close.
      chunked = nameIs(buf, vs, ve, 'chunked');
    } else if (nameIs(buf, ns, ne, 'connection')) {
      if (hasToken(buf, vs, ve, 'close')) close = true;
      else if (!http11 && hasToken(buf, vs, ve, 'keep-alive')) close = false;
    }
  }
  // RFC 9112 §6.1: a response with both is an attack or a bug; do not pick one.
  if (te && contentLength !== -1) return 'bad';
  let framing: ResponseFraming;
  if (head || status < 200 || status === 204 || status === 304) framing = 'none';
  else if (chunked) framing = 'chunked';
  else if (te) framing = 'close';
  else if (contentLength !== -1) framing = 'length';
  else framing = 'close';
  return {
    status,
    fields,
    length: p,
    framing,
    contentLength,
    reusable: !close && framing !== 'close',
  };
}
