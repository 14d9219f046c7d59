/**
 * Active health checks: every interval, probe each endpoint. HTTP endpoints get a GET of the
 * check path (any answer below 500 is healthy); MQTT brokers get the probe the MQTT stage
 * hands in (a CONNECT answered by a CONNACK, src/mqtt/broker-probe.ts). Thresholds keep one
 * lost probe from flapping an endpoint; the same rule for every protocol.
 */
import type { UpstreamConfig } from '../core/config.js';
import type { Endpoint, EndpointState } from './endpoint.js';

/** The shared part of `upstream.healthCheck` (`path` is the HTTP probe's own). */
export type HealthCheckConfig = Omit<UpstreamConfig['healthCheck'], 'path'>;

/** Resolves true when the endpoint answered as a healthy one within `timeoutMs`; never rejects. */
export type HealthProbe<E extends EndpointState> = (endpoint: E, timeoutMs: number) => Promise<boolean>;

export interface EndpointCheckerOptions<E extends EndpointState> {
  readonly config: HealthCheckConfig;
  readonly endpoints: () => Iterable<E>;
  readonly probe: HealthProbe<E>;
  readonly onChange?: (endpoint: E, healthy: boolean) => void;
}

/** Probes endpoints of any protocol on an interval and flips `healthy` past the thresholds. */
export class EndpointChecker<E extends EndpointState> {
  readonly #o: EndpointCheckerOptions<E>;
  #timer: NodeJS.Timeout | null = null;
  #running = false;

  constructor(o: EndpointCheckerOptions<E>) {
    this.#o = o;
  }

  start(): void {
    if (!this.#o.config.enabled || this.#timer !== null) return;
    this.#timer = setInterval(() => {
      this.runOnce().catch(() => {});
    }, this.#o.config.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One round over every endpoint (exposed for tests). */
  async runOnce(): Promise<void> {
    // A slow round must not stack up behind the next tick.
    if (this.#running) return;
    this.#running = true;
    try {
      await Promise.all([...this.#o.endpoints()].map((e) => this.#probe(e)));
    } finally {
      this.#running = false;
    }
  }

  async #probe(e: E): Promise<void> {
    const c = this.#o.config;
    const ok = await this.#o.probe(e, c.timeoutMs);
    if (ok === e.healthy) {
      e.streak = 0;
      return;
    }
    e.streak++;
    if (e.streak >= (ok ? c.healthyThreshold : c.unhealthyThreshold)) {
      e.healthy = ok;
      e.streak = 0;
      if (ok) e.ejectedUntil = 0;
      this.#o.onChange?.(e, ok);
    }
  }
}

export interface HealthCheckerOptions {
  readonly config: UpstreamConfig['healthCheck'];
  readonly endpoints: () => Iterable<Endpoint>;
  readonly onChange?: (endpoint: Endpoint, healthy: boolean) => void;
}

/** The HTTP endpoints' checker: GET `config.path`. */
export class HealthChecker extends EndpointChecker<Endpoint> {
  constructor(o: HealthCheckerOptions) {
    const path = o.config.path;
    super({ ...o, probe: (e, timeoutMs) => httpProbe(e, path, timeoutMs) });
  }
}

async function httpProbe(e: Endpoint, path: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await e.pool.request({
      path,
      method: 'GET',
      headers: { 'user-agent': 'zonegate-health' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.dump();
    return res.statusCode < 500;
  } catch {
    return false;
  }
}
