/**
 * The uid in an HTTP header (`identity.uidHeader`, docs/design.md "HTTP"): the uid's UTF-8 bytes,
 * with `%`, space, controls, DEL and every non-ASCII byte percent-encoded (`%XX`, RFC 3986
 * style). An ASCII uid without `%` is sent as it is. Read back: percent-decode, then the bytes
 * must be UTF-8. Raw UTF-8 bytes are accepted on input too (what `curl -H` sends), so a client,
 * a peer gateway and an upstream's login answer all read the same way.
 *
 * Node hands header values over as latin1 strings (one char per byte): the bytes are recovered
 * exactly from that string before decoding.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Why a header value is not a uid (the error message's tail), or the uid. */
export type UidRead = { ok: true; uid: string } | { ok: false; problem: string };

/** Decode a uid header's bytes: percent-escapes, then strict UTF-8. */
export function readUidBytes(bytes: Uint8Array): UidRead {
  let out: Uint8Array = bytes;
  if (bytes.includes(0x25 /* % */)) {
    const b = new Uint8Array(bytes.length);
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (c !== 0x25) {
        b[n++] = c;
        continue;
      }
      const hi = i + 2 < bytes.length ? hexValue(bytes[i + 1]!) : -1;
      const lo = hi === -1 ? -1 : hexValue(bytes[i + 2]!);
      if (lo === -1) return { ok: false, problem: 'has a % not followed by two hex digits (write % as %25)' };
      b[n++] = (hi << 4) | lo;
      i += 2;
    }
    out = b.subarray(0, n);
  }
  try {
    return { ok: true, uid: utf8.decode(out) };
  } catch {
    return { ok: false, problem: 'is not UTF-8 (send the uid as UTF-8 bytes, or percent-encoded UTF-8)' };
  }
}

/** A uid header's value as Node gives it (latin1: one char per byte). */
export function readUidHeader(value: string): UidRead {
  // The common case, an ASCII uid without escapes, is the string itself.
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80 || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return { ok: true, uid: value };
  return readUidBytes(Buffer.from(value, 'latin1'));
}

/** The header value that carries `uid`: visible ASCII but `%` as is, every other byte `%XX`. */
export function encodeUidHeader(uid: string): string {
  let plain = true;
  for (let i = 0; i < uid.length; i++) {
    const c = uid.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return uid;
  let s = '';
  for (const c of Buffer.from(uid, 'utf8')) {
    s += c > 0x20 && c < 0x7f && c !== 0x25 ? String.fromCharCode(c) : `%${HEX[c >> 4]}${HEX[c & 15]}`;
  }
  return s;
}
