/**
 * `zonegate_upstream_latency_seconds` from undici's diagnostics channels, so the HTTP stage
 * needs no extra hook: the time from undici creating the upstream request (queueing for a
 * pooled connection included — that wait is part of what the user feels) to the response
 * head. Zone and colour come from the `x-ldc-zone` / `x-ldc-colour` headers the gateway adds
 * towards upstreams; requests without them (health checks, forwards to a peer gateway) are
 * not upstream-of-a-zone requests and are left out.
 *
 * undici publishes on these channels only while someone subscribes, and both callbacks are
 * allocation-free apart from the first sight of a label pair.
 * https://github.com/nodejs/undici/blob/main/docs/docs/api/DiagnosticsChannel.md
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Metrics } from './metrics.js';

const CREATE = 'undici:request:create';
const HEADERS = 'undici:request:headers';
const kStarted = Symbol('zonegate.upstreamStarted');

interface UndiciRequest {
  headers?: unknown;
  [kStarted]?: number;
}

function requestOf(message: unknown): UndiciRequest | null {
  if (typeof message !== 'object' || message === null) return null;
  const req = (message as { request?: unknown }).request;
  return typeof req === 'object' && req !== null ? req : null;
}

/** undici 7 keeps request headers as a flat [name, value, name, value, …] array. */
function headerValue(headers: unknown, name: string): string | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i] === name) {
      const v: unknown = headers[i + 1];
      return typeof v === 'string' ? v : undefined;
    }
  }
  return undefined;
}

/** Starts observing; returns the function that stops it. */
export function observeUpstreamLatency(metrics: Metrics): () => void {
  const children = new Map<string, { observe(v: number): void }>();
  const onCreate = (message: unknown): void => {
    const req = requestOf(message);
    if (req !== null) req[kStarted] = performance.now();
  };
  const onHeaders = (message: unknown): void => {
    const req = requestOf(message);
    const started = req?.[kStarted];
    if (req === null || started === undefined) return;
    req[kStarted] = undefined;
    const zone = headerValue(req.headers, 'x-ldc-zone');
    if (zone === undefined) return;
    const colour = headerValue(req.headers, 'x-ldc-colour') ?? '';
    const key = `${zone}\u0000${colour}`;
    let child = children.get(key);
    if (child === undefined) {
      child = metrics.upstreamLatency.labels({ protocol: 'http', zone, colour });
      children.set(key, child);
    }
    child.observe((performance.now() - started) / 1000);
  };
  subscribe(CREATE, onCreate);
  subscribe(HEADERS, onHeaders);
  return () => {
    unsubscribe(CREATE, onCreate);
    unsubscribe(HEADERS, onHeaders);
  };
}
