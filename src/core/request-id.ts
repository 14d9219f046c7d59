/**
 * `x-request-id`: kept when the client (or the load balancer in front) sent a sane one, so one
 * id follows a request through every tier; generated otherwise. Sane means 1..128 visible
 * ASCII characters without spaces, quotes or backslashes: it goes into logs and headers as is.
 */
import { randomUUID } from 'node:crypto';

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

/** The client's id when sane, else a fresh UUID. */
export function requestIdFrom(value: string | undefined): string {
  return value !== undefined && isSaneRequestId(value) ? value : randomUUID();
}
