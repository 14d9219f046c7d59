/**
 * Active health checks: every interval, GET the check path on each endpoint; any answer
 * below 500 is healthy. Thresholds keep one lost probe from flapping an endpoint.
 */
import type { UpstreamConfig } from '../core/config.js';
import type { Endpoint } from './endpoint.js';

export interface HealthCheckerOptions {
  readonly config: UpstreamConfig['healthCheck'];
  readonly endpoints: () => Iterable<Endpoint>;
  readonly onChange?: (endpoint: Endpoint, healthy: boolean) => void;
}

export class HealthChecker {
  readonly #o: HealthCheckerOptions;
  #timer: NodeJS.Timeout | null = null;
  #running = false;

  constructor(o: HealthCheckerOptions) {
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

  async #probe(e: Endpoint): Promise<void> {
    const c = this.#o.config;
    let ok: boolean;
    try {
      const res = await e.pool.request({
        path: c.path,
        method: 'GET',
        headers: { 'user-agent': 'zonegate-health' },
        headersTimeout: c.timeoutMs,
        bodyTimeout: c.timeoutMs,
      });
      await res.body.dump();
      ok = res.statusCode < 500;
    } catch {
      ok = false;
    }
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
