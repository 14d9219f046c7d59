/**
 * One upstream address ("host:port") with its keep-alive pool and health state. Passive
 * ejection (consecutive failures of real requests) and active checks (health.ts) both feed
 * `available`; a group skips unavailable endpoints while it has others.
 */
import { Pool } from 'undici';

export interface EndpointOptions {
  readonly connections: number;
  readonly pipelining: number;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /** Longest silence between two body chunks of an upstream's answer. */
  readonly bodyTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly consecutiveFailures: number;
  readonly ejectMs: number;
}

export class Endpoint {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly pool: Pool;
  /** Failures of real requests in a row; reset by any success. */
  failures = 0;
  /** Date.now() until which passive ejection keeps this endpoint out. */
  ejectedUntil = 0;
  /** Result of the active health check (true until a check says otherwise). */
  healthy = true;
  /** Consecutive active-check results in the current direction (health.ts thresholds). */
  streak = 0;
  readonly #opts: EndpointOptions;

  constructor(address: string, opts: EndpointOptions) {
    const colon = address.lastIndexOf(':');
    this.address = address;
    // "[::1]:9000" → "::1"
    this.host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(address.slice(colon + 1));
    this.#opts = opts;
    this.pool = new Pool(`http://${address}`, {
      connections: opts.connections,
      pipelining: opts.pipelining,
      connectTimeout: opts.connectTimeoutMs,
      headersTimeout: opts.responseTimeoutMs,
      // No overall deadline for a body (downloads may be long), but an upstream silent for this
      // long mid-body is cut. While the gateway pauses the upstream for a slow client, undici
      // stops this clock: the transfer watch (timeouts.transferIdleTimeoutMs) covers that wait.
      bodyTimeout: opts.bodyTimeoutMs,
      keepAliveTimeout: opts.idleTimeoutMs,
      keepAliveMaxTimeout: opts.idleTimeoutMs,
      maxHeaderSize: Math.max(opts.maxHeaderBytes, 16384),
    });
    // A pool error outside a request (e.g. while closing) must never crash the gateway.
    this.pool.on('connectionError', () => {});
  }

  available(now: number): boolean {
    return this.healthy && this.ejectedUntil <= now;
  }

  succeeded(): void {
    this.failures = 0;
  }

  /** A real request failed (connect error, reset, timeout): eject after enough in a row. */
  failed(now: number): void {
    this.failures++;
    if (this.failures >= this.#opts.consecutiveFailures) {
      this.ejectedUntil = now + this.#opts.ejectMs;
      this.failures = 0;
    }
  }
}
