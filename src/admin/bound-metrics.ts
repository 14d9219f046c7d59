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
  labels: Readonly<Record<string, string | number>>,
): string | undefined {
  for (const key of Object.keys(metric.hashMap)) {
    const have = metric.hashMap[key]!.labels;
    if (metric.labelNames.every((n) => String(have[n]) === String(labels[n]))) return key;
  }
  return undefined;
}

export interface BoundCounter {
  inc(): void;
}

export interface BoundHistogram {
  observe(value: number): void;
}

class CounterChild implements BoundCounter {
  readonly #metric: Records<CounterRecord>;
  readonly #labels: LabelValues<string>;
  readonly #inc: (labels: LabelValues<string>, value: number) => void;
  #key: string | undefined;

  constructor(metric: Counter<string>, labels: LabelValues<string>) {
    this.#metric = metric as unknown as Records<CounterRecord>;
    this.#labels = labels;
    this.#inc = (l, v) => metric.inc(l, v);
    this.#key = this.#find();
  }

  #find(): string | undefined {
    // An increment of 0 makes the record (prom-client validates the labels once, here).
    if (keyOf(this.#metric, this.#labels as Record<string, string | number>) === undefined)
      this.#inc(this.#labels, 0);
    return keyOf(this.#metric, this.#labels as Record<string, string | number>);
  }

  inc(): void {
    const r = this.#key === undefined ? undefined : this.#metric.hashMap[this.#key];
    if (r !== undefined) r.value += 1;
    else {
      this.#key = this.#find();
      this.#inc(this.#labels, 1);
    }
  }
}

class HistogramChild implements BoundHistogram {
  readonly #metric: HistogramInternals;
  readonly #labels: LabelValues<string>;
  readonly #bounds: readonly number[];
  readonly #zero: (labels: LabelValues<string>) => void;
  readonly #observe: (labels: LabelValues<string>, value: number) => void;
  #key: string | undefined;

  constructor(metric: Histogram<string>, labels: LabelValues<string>) {
    this.#metric = metric as unknown as HistogramInternals;
    this.#labels = labels;
    this.#bounds = [...this.#metric.upperBounds];
    this.#zero = (l) => metric.zero(l);
    this.#observe = (l, v) => metric.observe(l, v);
    this.#key = this.#find();
  }

  #find(): string | undefined {
    if (keyOf(this.#metric, this.#labels as Record<string, string | number>) === undefined)
      this.#zero(this.#labels);
    return keyOf(this.#metric, this.#labels as Record<string, string | number>);
  }

  observe(value: number): void {
    const r = this.#key === undefined ? undefined : this.#metric.hashMap[this.#key];
    if (r === undefined || !Number.isFinite(value)) {
      // After a reset, or a value prom-client must judge (it throws on a non-finite one).
      this.#key = this.#find();
      this.#observe(this.#labels, value);
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
