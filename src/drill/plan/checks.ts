import type { ZoneMapStore } from '../../zonemap/stores/index.js';
import { classifyGateways } from '../convergence.js';
import { MetricsScrapeError } from '../errors.js';
import type { Slo } from './plan.js';
import { parsePromText, type Sample } from './prom-text.js';

/**
 * SLOs read from the gateways' own metrics: every live gateway reports its admin URL with
 * its map version, the plan may add /metrics URLs, and a figure over a window is the
 * difference of two scrapes, summed over the gateways (a counter that went down was reset
 * by a restart: its new value is the increase).
 */

const P = 'zonegate_';
const SCRAPE_TIMEOUT_MS = 5000;

/** One read of every target at one moment. */
export interface Scrape {
  readonly at: number;
  readonly byTarget: ReadonlyMap<string, readonly Sample[]>;
}

/** The /metrics URLs for a run: each live gateway's reported admin URL, and the plan's own. */
export async function metricsTargets(
  store: ZoneMapStore,
  extra: readonly string[],
  staleMs: number,
): Promise<string[]> {
  const rows = classifyGateways(await store.gateways(), null, staleMs);
  const urls = new Set<string>();
  for (const r of rows) {
    // A cluster's workers all report their primary's admin URL: one scrape sums them.
    if (r.state !== 'stale' && r.report.admin !== undefined)
      urls.add(`${r.report.admin.replace(/\/$/, '')}/metrics`);
  }
  for (const u of extra) urls.add(u);
  return [...urls].sort();
}

export async function scrapeAll(targets: readonly string[], signal?: AbortSignal): Promise<Scrape> {
  if (targets.length === 0)
    throw new MetricsScrapeError(
      'no metrics to read: no live gateway reports an admin URL and the plan lists no metrics URL',
    );
  const at = Date.now();
  const pairs = await Promise.all(
    targets.map(async (url): Promise<[string, Sample[]]> => {
      let text: string;
      try {
        const timeout = AbortSignal.timeout(SCRAPE_TIMEOUT_MS);
        const res = await fetch(url, {
          signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
        });
        text = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      } catch (err) {
        throw new MetricsScrapeError(`could not read ${url}: ${(err as Error).message}`, err);
      }
      try {
        return [url, parsePromText(text)];
      } catch (err) {
        throw new MetricsScrapeError(`could not parse ${url}: ${(err as Error).message}`, err);
      }
    }),
  );
  return { at, byTarget: new Map(pairs) };
}

type LabelFilter = (labels: Readonly<Record<string, string>>) => boolean;

function sumOf(samples: readonly Sample[], name: string, filter: LabelFilter, key = ''): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name || !filter(s.labels)) continue;
    const k = key === '' ? '' : (s.labels[key] ?? '');
    out.set(k, (out.get(k) ?? 0) + s.value);
  }
  return out;
}

/** Increase of a counter (summed over matching series, and over targets in both scrapes), per `key` label. */
export function increase(
  from: Scrape,
  to: Scrape,
  name: string,
  filter: LabelFilter = () => true,
  key = '',
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [target, end] of to.byTarget) {
    // A target that appeared in between has no baseline: its whole count is not an increase.
    const start = from.byTarget.get(target);
    if (start === undefined) continue;
    const b = sumOf(end, name, filter, key);
    const a = sumOf(start, name, filter, key);
    for (const [k, v] of b) {
      const before = a.get(k) ?? 0;
      out.set(k, (out.get(k) ?? 0) + (v >= before ? v - before : v));
    }
  }
  return out;
}

function total(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

/** Figures over one window, for the report. */
export interface Figures {
  readonly windowMs: number;
  readonly requests: number;
  readonly errors5xx: number;
  readonly errorRatio: number;
  readonly noLiveZone: number;
  readonly mqttMovesOk: number;
  readonly mqttMovesFailed: number;
  /** null when no upstream request was timed in the window. */
  readonly upstreamP99Ms: number | null;
}

export function figures(from: Scrape, to: Scrape): Figures {
  const requests = total(increase(from, to, `${P}http_requests_total`));
  const errors5xx = total(increase(from, to, `${P}http_requests_total`, (l) => l['status_class'] === '5xx'));
  const moves = increase(from, to, `${P}mqtt_migrations_total`, () => true, 'result');
  return {
    windowMs: to.at - from.at,
    requests,
    errors5xx,
    errorRatio: requests === 0 ? 0 : errors5xx / requests,
    noLiveZone: noLiveZone(from, to),
    mqttMovesOk: moves.get('ok') ?? 0,
    mqttMovesFailed: moves.get('failed') ?? 0,
    upstreamP99Ms: latencyQuantileMs(from, to, 0.99, undefined),
  };
}

function noLiveZone(from: Scrape, to: Scrape): number {
  const nlz: LabelFilter = (l) => l['reason'] === 'no-live-zone';
  return (
    total(increase(from, to, `${P}http_requests_total`, nlz)) +
    total(increase(from, to, `${P}mqtt_connects_total`, nlz))
  );
}

/**
 * The quantile as Prometheus' histogram_quantile would give it, but without interpolation:
 * the upper bound of the bucket the rank falls in (a conservative figure for an SLO).
 */
function latencyQuantileMs(from: Scrape, to: Scrape, q: number, zone: string | undefined): number | null {
  const byLe = increase(
    from,
    to,
    `${P}upstream_latency_seconds_bucket`,
    (l) => zone === undefined || l['zone'] === zone,
    'le',
  );
  const buckets = [...byLe.entries()]
    .map(([le, n]) => ({ le: le === '+Inf' ? Infinity : Number(le), n }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  const count = buckets.at(-1)?.n ?? 0;
  if (count === 0) return null;
  const rank = q * count;
  for (const b of buckets) if (b.n >= rank) return b.le * 1000;
  return Infinity;
}

export interface SloResult {
  readonly slo: Slo;
  /** E.g. `error ratio (rz03)`. */
  readonly label: string;
  readonly value: number;
  readonly limit: number;
  readonly ok: boolean;
  /** The figure in words, e.g. `0.40% (2 of 500)`. */
  readonly detail: string;
}

export function describeSlo(slo: Slo): string {
  switch (slo.metric) {
    case 'error-ratio':
      return `error ratio${slo.zone === undefined ? '' : ` (${slo.zone})`} ≤ ${(slo.max * 100).toFixed(2)}%`;
    case 'no-live-zone':
      return `no-live-zone answers ≤ ${slo.max}`;
    case 'upstream-latency':
      return `upstream p${slo.quantile * 100}${slo.zone === undefined ? '' : ` (${slo.zone})`} ≤ ${slo.maxMs} ms`;
    case 'mqtt-moves-failed':
      return `MQTT moves failed ≤ ${slo.max}`;
  }
}

export function evaluateSlo(slo: Slo, from: Scrape, to: Scrape): SloResult {
  const label = describeSlo(slo);
  switch (slo.metric) {
    case 'error-ratio': {
      const f: LabelFilter = (l) => slo.zone === undefined || l['zone'] === slo.zone;
      const all = total(increase(from, to, `${P}http_requests_total`, f));
      const bad = total(
        increase(from, to, `${P}http_requests_total`, (l) => f(l) && l['status_class'] === '5xx'),
      );
      const ratio = all === 0 ? 0 : bad / all;
      return {
        slo,
        label,
        value: ratio,
        limit: slo.max,
        ok: ratio <= slo.max,
        detail: `${(ratio * 100).toFixed(2)}% (${bad} of ${all})`,
      };
    }
    case 'no-live-zone': {
      const n = noLiveZone(from, to);
      return { slo, label, value: n, limit: slo.max, ok: n <= slo.max, detail: String(n) };
    }
    case 'upstream-latency': {
      const ms = latencyQuantileMs(from, to, slo.quantile, slo.zone);
      return {
        slo,
        label,
        value: ms ?? 0,
        limit: slo.maxMs,
        ok: ms === null || ms <= slo.maxMs,
        detail: ms === null ? 'no upstream requests' : `≤ ${ms} ms`,
      };
    }
    case 'mqtt-moves-failed': {
      const n = increase(from, to, `${P}mqtt_migrations_total`, (l) => l['result'] === 'failed').get('') ?? 0;
      return { slo, label, value: n, limit: slo.max, ok: n <= slo.max, detail: String(n) };
    }
  }
}
