/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/ §3.2): the gateway is one span of
 * the trace. It keeps the client's trace id and flags, records the client's span as its
 * parent, and sends its own span id upstream, so a tracing backend shows client → gateway →
 * upstream. Without a valid `traceparent` the gateway starts a trace (not sampled: flags 00,
 * the sampling decision stays with whoever records spans). `tracestate` passes through as is.
 */
import { putLatin1 } from '../core/bytes.js';
import { RANDOM_POOL, randomAt } from '../core/random-pool.js';

export const TRACEPARENT_HEADER = 'traceparent';

export interface TraceContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** This gateway's span: 16 lowercase hex digits. */
  readonly spanId: string;
  /** The client's span (parent-id of its traceparent), or null when the gateway started the trace. */
  readonly parentSpanId: string | null;
  /** 2 hex digits: the client's trace-flags, `00` for a trace started here. */
  readonly flags: string;
}

/** `bytes` random bytes as lowercase hex. */
function randomHex(bytes: 8 | 24): string {
  const at = randomAt(bytes);
  return RANDOM_POOL.toString('hex', at, at + bytes);
}

function isLowerHex(s: string, start: number, end: number): boolean {
  let nonZero = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
    if (c !== 0x30) nonZero = true;
  }
  return nonZero || end - start === 2;
}

/**
 * Parses `version-traceid-parentid-flags` (§3.2.2). Version 00 must be exactly 55 chars;
 * a higher version may append fields (§3.2.4), read as far as 00 defines. An all-zero trace
 * or parent id, `ff` as version, or any non-hex digit makes it invalid (null).
 */
export function parseTraceparent(value: string): { traceId: string; parentId: string; flags: string } | null {
  if (value.length < 55 || value.charCodeAt(2) !== 0x2d || value.charCodeAt(35) !== 0x2d) return null;
  if (value.charCodeAt(52) !== 0x2d) return null;
  const version = value.slice(0, 2);
  if (!isLowerHex(version, 0, 2) || version === 'ff') return null;
  if (version === '00' && value.length !== 55) return null;
  if (version !== '00' && value.length > 55 && value.charCodeAt(55) !== 0x2d) return null;
  if (!isLowerHex(value, 3, 35) || !isLowerHex(value, 36, 52) || !isLowerHex(value, 53, 55)) return null;
  return { traceId: value.slice(3, 35), parentId: value.slice(36, 52), flags: value.slice(53, 55) };
}

/** The gateway's span: the client's trace continued, or a new one. */
export function traceFrom(header: string | undefined): TraceContext {
  const parsed = header === undefined ? null : parseTraceparent(header.trim());
  if (parsed === null) {
    // Trace and span id from one 24-byte draw: one hex conversion instead of two.
    const ids = randomHex(24);
    return { traceId: ids.slice(0, 32), spanId: ids.slice(32), parentSpanId: null, flags: '00' };
  }
  return {
    traceId: parsed.traceId,
    spanId: randomHex(8),
    parentSpanId: parsed.parentId,
    flags: parsed.flags,
  };
}

/** The `traceparent` value sent upstream: version 00, our span as the parent. */
export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`;
}

/** Characters of formatTraceparent's value (version 00). */
export const TRACEPARENT_CHARS = 55;

/** formatTraceparent(t) written as bytes at `o` (TRACEPARENT_CHARS of them); returns the end. */
export function putTraceparent(out: Buffer, o: number, t: TraceContext): number {
  o = putLatin1(out, o, '00-');
  o = putLatin1(out, o, t.traceId);
  out[o++] = 0x2d;
  o = putLatin1(out, o, t.spanId);
  out[o++] = 0x2d;
  return putLatin1(out, o, t.flags);
}
