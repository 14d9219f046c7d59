/**
 * One upstream address ("host:port") with its health state, and the HTTP endpoint that adds a
 * keep-alive pool to it. Passive ejection (consecutive failures of real traffic) and active
 * checks (health.ts) both feed `available`; a group skips unavailable endpoints while it has
 * others. MQTT brokers are endpoints too (brokers.ts): the same state, no pool.
 */
import { Pool } from 'undici';
import { SocketPool } from './socket-pool.js';

/** When passive ejection takes an endpoint out, and for how long. */
export interface EjectionOptions {
  readonly consecutiveFailures: number;
  readonly ejectMs: number;
}

export interface EndpointOptions extends EjectionOptions {
  readonly connections: number;
  readonly pipelining: number;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /** Longest silence between two body chunks of an upstream's answer. */
  readonly bodyTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

/** An upstream address and its health, whatever the protocol spoken to it. */
export class EndpointState {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Failures of real traffic in a row; reset by any success. */
  failures = 0;
  /** Date.now() until which passive ejection keeps this endpoint out. */
  ejectedUntil = 0;
  /** Result of the active health check (true until a check says otherwise). */
  healthy = true;
  /** Consecutive active-check results in the current direction (health.ts thresholds). */
  streak = 0;
  readonly #ejection: EjectionOptions;

  constructor(address: string, ejection: EjectionOptions) {
    const colon = address.lastIndexOf(':');
    this.address = address;
    // "[::1]:9000" → "::1"
    this.host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(address.slice(colon + 1));
    this.#ejection = ejection;
  }

  available(now: number): boolean {
    return this.healthy && this.ejectedUntil <= now;
  }

  succeeded(): void {
    this.failures = 0;
  }

  /** Real traffic failed (connect error, reset, timeout): eject after enough in a row. True: ejected now. */
  failed(now: number): boolean {
    this.failures++;
    if (this.failures < this.#ejection.consecutiveFailures) return false;
    this.ejectedUntil = now + this.#ejection.ejectMs;
    this.failures = 0;
    return true;
  }
}

export class Endpoint extends EndpointState {
  /** For requests with a body, WebSocket upgrades and health checks. */
  readonly pool: Pool;
  /** Raw keep-alive connections for requests without a body (src/http/upstream-call.ts). */
  readonly conns: SocketPool;
  /** An upstream's response head must be whole within this many bytes (both pools). */
  readonly maxResponseHeadBytes: number;

  constructor(address: string, opts: EndpointOptions) {
    super(address, opts);
    // The client-side head limit, never below 16 KiB (what undici and Node accept by default:
    // upstreams send longer heads than clients do).
    this.maxResponseHeadBytes = Math.max(opts.maxHeaderBytes, 16384);
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
      maxHeaderSize: this.maxResponseHeadBytes,
    });
    // A pool error outside a request (e.g. while closing) must never crash the gateway.
    this.pool.on('connectionError', () => {});
    this.conns = new SocketPool({
      host: this.host,
      port: this.port,
      connections: opts.connections,
      connectTimeoutMs: opts.connectTimeoutMs,
      timeoutMs: opts.responseTimeoutMs,
      idleTimeoutMs: opts.idleTimeoutMs,
    });
  }

  /** Graceful: requests in flight finish, then every connection closes. */
  async close(): Promise<void> {
    this.conns.close();
    await this.pool.close();
  }

  /** Now: every connection closes, requests in flight fail. */
  async destroy(): Promise<void> {
    this.conns.destroy();
    await this.pool.destroy();
  }
}
