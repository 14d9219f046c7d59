/**
 * Label children that cost nothing per update. prom-client's own children (`metric.labels(…)`)
 * re-hash the label object into a key string, re-validate it and (histograms) build a closure
 * and a value object on every `inc()` / `observe()`: ~1.4 KB of garbage per proxied request
 * for the three per-request series (allocation sampling of the default config under load).
 * A bound child here finds prom-client's own record for its label set once and then adds to
 * it in place, so the exposition, `registry.metrics()`, cluster aggregation and `reset()` stay
 * prom-client's.
 *
 * It reads prom-client's per-label-set records (`hashMap`: a counter's `{ value, labels }`, a
 * histogram's `{ labels, bucketValues, sum, count }`, as in prom-client 15, pinned by the lock
 * file); test/admin/bound-metrics.test.ts checks the exposition against prom-client's own
 * children. After a `reset()` (a new `hashMap`) the next update finds or makes the record again.
 */
import type { Counter, Histogram, LabelValues } from 'prom-client';

interface CounterRecord {
  value: number;
  readonly labels: Record<string, string | number>;
}
interface HistogramRecord {
  readonly labels: Record<string, string | number>;
  readonly bucketValues: Record<number, number>;
  sum: number;
  count: number;
}
interface Records<R> {
  hashMap: Record<string, R>;
  readonly labelNames: readonly string[];
}
interface HistogramInternals extends Records<HistogramRecord> {
  readonly upperBounds: readonly number[];
}

/** The key prom-client filed `labels` under, or undefined when it has no record for them. */
function keyOf<R extends { readonly labels: Record<string, string | number> }>(
  metric: Records<R>,
  labels: LabelValues<string>,
): string | undefined {
  for (const key of Object.keys(metric.hashMap)) {
    const have = metric.hashMap[key]!.labels;
    if (metric.labelNames.every((n) => String(have[n]) === String(labels[n]))) return key;
  }
  return undefined;
}

/** The key of prom-client's record for `labels`, made first by `make` when it has none. */
function recordKey<R extends { readonly labels: Record<string, string | number> }>(
  metric: Records<R>,
  labels: LabelValues<string>,
  make: () => void,
): string | undefined {
  if (keyOf(metric, labels) === undefined) make();
  return keyOf(metric, labels);
}

export interface BoundCounter {
  inc(): void;
}

export interface BoundHistogram {
  observe(value: number): void;
}

class CounterChild implements BoundCounter {
  readonly #metric: Counter<string>;
  readonly #labels: LabelValues<string>;
  #key: string | undefined;

  constructor(metric: Counter<string>, labels: LabelValues<string>) {
    this.#metric = metric;
    this.#labels = labels;
    this.#key = this.#find();
  }

  get #records(): Records<CounterRecord> {
    return this.#metric as unknown as Records<CounterRecord>;
  }

  #find(): string | undefined {
    // An increment of 0 makes the record (prom-client validates the labels once, here).
    return recordKey(this.#records, this.#labels, () => this.#metric.inc(this.#labels, 0));
  }

  inc(): void {
    const r = this.#key === undefined ? undefined : this.#records.hashMap[this.#key];
    if (r !== undefined) r.value += 1;
    else {
      this.#key = this.#find();
      this.#metric.inc(this.#labels, 1);
    }
  }
}

class HistogramChild implements BoundHistogram {
  readonly #metric: Histogram<string>;
  readonly #labels: LabelValues<string>;
  readonly #bounds: readonly number[];
  #key: string | undefined;

  constructor(metric: Histogram<string>, labels: LabelValues<string>) {
    this.#metric = metric;
    this.#labels = labels;
    this.#bounds = [...this.#records.upperBounds];
    this.#key = this.#find();
  }

  get #records(): HistogramInternals {
    return this.#metric as unknown as HistogramInternals;
  }

  #find(): string | undefined {
    return recordKey(this.#records, this.#labels, () => this.#metric.zero(this.#labels));
  }

  observe(value: number): void {
    const r = this.#key === undefined ? undefined : this.#records.hashMap[this.#key];
    if (r === undefined || !Number.isFinite(value)) {
      // After a reset, or a value prom-client must judge (it throws on a non-finite one).
      this.#key = this.#find();
      this.#metric.observe(this.#labels, value);
      return;
    }
    r.sum += value;
    r.count += 1;
    // As prom-client files it: the first bound the value is under; above the last, only
    // sum and count (+Inf is the count).
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      const b = bounds[i]!;
      if (value <= b) {
        r.bucketValues[b] = (r.bucketValues[b] ?? 0) + 1;
        return;
      }
    }
  }
}

/** A child of `metric` for these label values that adds in place. */
export function bindCounter<L extends string>(metric: Counter<L>, labels: LabelValues<L>): BoundCounter {
  return new CounterChild(metric, labels);
}

/** A child of `metric` for these label values that observes in place. */
export function bindHistogram<L extends string>(
  metric: Histogram<L>,
  labels: LabelValues<L>,
): BoundHistogram {
  return new HistogramChild(metric, labels);
}
