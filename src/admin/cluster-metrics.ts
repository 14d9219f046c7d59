/**
 * /metrics with `--workers N`: every worker keeps its own registry, the primary asks each for
 * its values over IPC and sums them (prom-client's aggregator; gauges that must not be summed
 * declare `aggregator: 'max'` in metrics.ts).
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsExposition } from './admin-server.js';

/** What a worker sends back: its registry as prom-client JSON. */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export async function snapshotMetrics(registry: Registry): Promise<MetricsSnapshot> {
  return registry.getMetricsAsJSON();
}

export async function aggregateMetrics(snapshots: readonly MetricsSnapshot[]): Promise<MetricsExposition> {
  const summed = AggregatorRegistry.aggregate(snapshots.map((s) => s as object[]));
  return { contentType: summed.contentType, body: await summed.metrics() };
}

/**
 * Counters and histograms of workers that died. Without them the summed counters would drop
 * when a worker is replaced, and Prometheus would read the drop as a reset (a spurious spike in
 * every rate()). We keep each worker's last scraped values and, when it dies, fold them into
 * one carried-over snapshot (bounded: one entry per label set, however many workers die).
 * What a worker counted after the last scrape is lost; the sum stays monotonic.
 */
export class RetiredMetrics {
  readonly #last = new Map<number, MetricsSnapshot>();
  #carried: MetricsSnapshot | null = null;

  remember(workerId: number, snapshot: MetricsSnapshot): void {
    this.#last.set(workerId, snapshot);
  }

  async retire(workerId: number): Promise<void> {
    const last = this.#last.get(workerId);
    this.#last.delete(workerId);
    if (last === undefined) return;
    // prom-client's typings declare `type` as a numeric enum; at runtime it is the string name.
    const monotonic = last.filter((m) => {
      const type = (m as { readonly type: unknown }).type;
      return type === 'counter' || type === 'histogram';
    });
    if (this.#carried === null) {
      this.#carried = monotonic;
      return;
    }
    const merged = AggregatorRegistry.aggregate([this.#carried, monotonic]);
    this.#carried = await merged.getMetricsAsJSON();
  }

  get carried(): MetricsSnapshot | null {
    return this.#carried;
  }
}
