/**
 * `x-request-id`: kept when the client (or the load balancer in front) sent a sane one, so one
 * id follows a request through every tier; generated otherwise. Sane means 1..128 visible
 * ASCII characters without spaces, quotes or backslashes: it goes into logs and headers as is.
 */
import { RANDOM_POOL, randomAt } from './random-pool.js';

export const REQUEST_ID_HEADER = 'x-request-id';
export const MAX_REQUEST_ID_CHARS = 128;

export function isSaneRequestId(value: string): boolean {
  if (value.length === 0 || value.length > MAX_REQUEST_ID_CHARS) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // Visible ASCII (0x21..0x7e) minus " ' \ (log and header quoting troubles).
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x27 || c === 0x5c) return false;
  }
  return true;
}

const HEX = '0123456789abcdef';
/** Scratch for newRequestId: its 36 characters, turned into one string. */
const UUID_TEXT = Buffer.alloc(36);

/**
 * A random (version 4) UUID, as crypto.randomUUID() gives it (RFC 9562 §5.4: lowercase hex,
 * 8-4-4-4-12), written into a scratch buffer and read out as one string: randomUUID() joins
 * twenty strings per id, a tenth of all the garbage a proxied request made.
 */
export function newRequestId(): string {
  const at = randomAt(16);
  const out = UUID_TEXT;
  let o = 0;
  for (let i = 0; i < 16; i++) {
    let b = RANDOM_POOL[at + i]!;
    // The version (4) in the high nibble of byte 6, the variant (10xx) in the top bits of byte 8.
    if (i === 6) b = (b & 0x0f) | 0x40;
    else if (i === 8) b = (b & 0x3f) | 0x80;
    if (i === 4 || i === 6 || i === 8 || i === 10) out[o++] = 0x2d;
    out[o++] = HEX.charCodeAt(b >> 4);
    out[o++] = HEX.charCodeAt(b & 15);
  }
  return out.toString('latin1', 0, 36);
}

/** The client's id when sane, else a fresh UUID. */
export function requestIdFrom(value: string | undefined): string {
  return value !== undefined && isSaneRequestId(value) ? value : newRequestId();
}
