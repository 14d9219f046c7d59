/**
 * Live per-zone figures from the gateways' admin `/metrics` (docs/design.md "Metrics"): request
 * rate and 5xx ratio from `zonegate_http_requests_total`, p99 from the
 * `zonegate_http_request_duration_seconds` histogram, MQTT sessions from `zonegate_mqtt_sessions`.
 * Rates are differences between two scrapes of the same gateway, summed over the fleet, so a
 * gateway that restarts (its counters fall) counts from zero rather than going negative.
 */
import type { ScrapeView, ZoneStats } from './view.js';

/** One scrape of one gateway, reduced to what the console shows. */
export interface GatewaySample {
  readonly atMs: number;
  /** zone → requests answered. */
  readonly requests: Map<string, number>;
  /** zone → 5xx answers. */
  readonly errors: Map<string, number>;
  /** zone → (bucket upper bound in seconds → cumulative count). */
  readonly buckets: Map<string, Map<number, number>>;
  readonly mqttSessions: Map<string, number>;
  readonly version: number | null;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function labelsOf(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (text === undefined) return out;
  for (const m of text.matchAll(LABEL)) out.set(m[1] as string, (m[2] as string).replace(/\\(.)/g, '$1'));
  return out;
}

function add<K>(map: Map<K, number>, key: K, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Parses the Prometheus text exposition; unknown families and malformed lines are skipped. */
export function parseGatewayMetrics(text: string, atMs: number): GatewaySample {
  const sample: GatewaySample = {
    atMs,
    requests: new Map(),
    errors: new Map(),
    buckets: new Map(),
    mqttSessions: new Map(),
    version: null,
  };
  let version: number | null = null;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const name = m[1] as string;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    if (name === 'zonegate_zonemap_version') {
      version = value;
      continue;
    }
    if (
      name !== 'zonegate_http_requests_total' &&
      name !== 'zonegate_http_request_duration_seconds_bucket' &&
      name !== 'zonegate_mqtt_sessions'
    )
      continue;
    const labels = labelsOf(m[2]);
    const zone = labels.get('zone');
    if (zone === undefined || zone === '') continue;
    if (name === 'zonegate_http_requests_total') {
      add(sample.requests, zone, value);
      if (labels.get('status_class') === '5xx') add(sample.errors, zone, value);
    } else if (name === 'zonegate_mqtt_sessions') {
      add(sample.mqttSessions, zone, value);
    } else {
      const le = labels.get('le');
      const bound = le === '+Inf' ? Infinity : Number(le);
      if (Number.isNaN(bound)) continue;
      let b = sample.buckets.get(zone);
      if (b === undefined) sample.buckets.set(zone, (b = new Map<number, number>()));
      add(b, bound, value);
    }
  }
  return { ...sample, version };
}

/** Counter increase between two samples; a fall means the gateway restarted, so count from zero. */
function increase(now: number, before: number | undefined): number {
  if (before === undefined || now < before) return now;
  return now - before;
}

interface ZoneWindow {
  requests: number;
  errors: number;
  seconds: number;
  buckets: Map<number, number>;
  sessions: number;
}

/** 99th percentile from cumulative bucket increases: the first bound holding 99% of them. */
function p99(buckets: Map<number, number>): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  if (total <= 0) return null;
  let lastFinite: number | null = null;
  for (const b of bounds) {
    if (b !== Infinity) lastFinite = b;
    if ((buckets.get(b) ?? 0) >= 0.99 * total) return b === Infinity ? lastFinite : b;
  }
  return lastFinite;
}

/**
 * Per-zone figures over the last interval of every gateway that has two samples; MQTT
 * sessions are a gauge, taken from the newest sample alone.
 */
export function zoneStats(
  pairs: readonly { readonly prev: GatewaySample | null; readonly cur: GatewaySample }[],
  zones: readonly string[],
): ZoneStats[] {
  const acc = new Map<string, ZoneWindow>();
  const win = (zone: string): ZoneWindow => {
    let w = acc.get(zone);
    if (w === undefined)
      acc.set(zone, (w = { requests: 0, errors: 0, seconds: 0, buckets: new Map(), sessions: 0 }));
    return w;
  };
  for (const { prev, cur } of pairs) {
    for (const [zone, n] of cur.mqttSessions) win(zone).sessions += n;
    if (prev === null) continue;
    const seconds = (cur.atMs - prev.atMs) / 1000;
    if (seconds <= 0) continue;
    for (const [zone, n] of cur.requests) {
      const w = win(zone);
      // Rates add up over gateways: each gateway's increase over its own interval.
      w.requests += increase(n, prev.requests.get(zone)) / seconds;
      w.errors += increase(cur.errors.get(zone) ?? 0, prev.errors.get(zone)) / seconds;
    }
    for (const [zone, b] of cur.buckets) {
      const w = win(zone);
      const before = prev.buckets.get(zone);
      for (const [bound, n] of b) add(w.buckets, bound, increase(n, before?.get(bound)));
    }
  }
  const names = [...new Set([...zones, ...acc.keys()])];
  return names.map((zone) => {
    const w = acc.get(zone);
    const rps = w?.requests ?? 0;
    const bound = w === undefined ? null : p99(w.buckets);
    return {
      zone,
      rps,
      errorRatio: rps > 0 && w !== undefined ? w.errors / rps : null,
      p99Ms: bound === null ? null : bound * 1000,
      mqttSessions: w?.sessions ?? 0,
    };
  });
}

/** Remembers each gateway's previous sample; `scrape()` fetches them all in parallel. */
export class FleetMetrics {
  private readonly last = new Map<string, GatewaySample>();
  private pairs: { prev: GatewaySample | null; cur: GatewaySample }[] = [];
  private views: ScrapeView[] = [];

  private lastScrapeMs = -Infinity;

  /**
   * @param minIntervalMs scrapes closer together than this are skipped: a rate over a few
   * milliseconds (a refresh right after a write) would be noise.
   */
  constructor(
    private readonly timeoutMs: number,
    private readonly minIntervalMs = 0,
  ) {}

  async scrape(urls: readonly string[]): Promise<void> {
    const now = Date.now();
    if (now - this.lastScrapeMs < this.minIntervalMs) return;
    this.lastScrapeMs = now;
    const results = await Promise.all(urls.map((url) => this.one(url)));
    this.views = results.map((r) => r.view);
    this.pairs = results.flatMap((r) => (r.pair === null ? [] : [r.pair]));
    for (const url of [...this.last.keys()]) if (!urls.includes(url)) this.last.delete(url);
  }

  stats(zones: readonly string[]): ZoneStats[] {
    return zoneStats(this.pairs, zones);
  }

  scrapes(): ScrapeView[] {
    return this.views;
  }

  private async one(
    url: string,
  ): Promise<{ view: ScrapeView; pair: { prev: GatewaySample | null; cur: GatewaySample } | null }> {
    try {
      const res = await fetch(`${url.replace(/\/+$/, '')}/metrics`, {
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const cur = parseGatewayMetrics(await res.text(), Date.now());
      const prev = this.last.get(url) ?? null;
      this.last.set(url, cur);
      return { view: { url, ok: true, version: cur.version, error: null }, pair: { prev, cur } };
    } catch (err) {
      this.last.delete(url);
      const message = err instanceof Error ? err.message : String(err);
      return { view: { url, ok: false, version: null, error: message }, pair: null };
    }
  }
}
