/**
 * The metrics subscriber: the one place where facts published on the gateway's event bus
 * (src/core/events.ts) become Prometheus series. Requests are counted with label children bound
 * once per label set (bound-metrics.ts: they add to prom-client's record in place) and found
 * again through nested maps (zone → colour → reason), so a request costs a few Map reads and no
 * label object, string key or closure.
 */
import type { LabelValues } from 'prom-client';
import type { ListenerConfig } from '../core/config.js';
import {
  connackLabel,
  HTTP_PROTOCOL_LABEL,
  type EventBus,
  type HttpProtocol,
  type ListenerEvent,
  type RequestDoneEvent,
} from '../core/events.js';
import { bindCounter, bindHistogram, type BoundCounter, type BoundHistogram } from './bound-metrics.js';
import { statusClass, type Metrics, type ProtocolLabel, type TlsFailureReason } from './metrics.js';

const PROTOCOLS: readonly HttpProtocol[] = ['http1', 'http2', 'websocket'];
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface RequestChildren {
  readonly requests: BoundCounter;
  readonly duration: BoundHistogram;
}

type ByReason = Map<string, RequestChildren>;
type ByZone = Map<string, Map<string, ByReason>>;

/** Bound on cached label sets per protocol and status class; beyond it children are looked up each time. */
const MAX_CACHED = 10_000;

/** Children of `metrics.httpRequests` / `httpRequestDuration`, found by nested maps without a key string. */
class RequestSeries {
  readonly #metrics: Metrics;
  /** [protocol][status class] → zone → colour → reason → children. */
  readonly #byClass: ByZone[][];
  #cached = 0;

  constructor(metrics: Metrics) {
    this.#metrics = metrics;
    this.#byClass = PROTOCOLS.map(() => STATUS_CLASSES.map((): ByZone => new Map()));
  }

  observe(e: RequestDoneEvent): void {
    const pi = e.protocol === 'http1' ? 0 : e.protocol === 'http2' ? 1 : 2;
    const s = e.status;
    const ci = s >= 100 && s < 500 ? ((s / 100) | 0) - 1 : 4;
    const zones = (this.#byClass[pi] as ByZone[])[ci] as ByZone;
    let colours = zones.get(e.zone);
    if (colours === undefined) {
      colours = new Map<string, ByReason>();
      zones.set(e.zone, colours);
    }
    let reasons = colours.get(e.colour);
    if (reasons === undefined) {
      reasons = new Map<string, RequestChildren>();
      colours.set(e.colour, reasons);
    }
    let c = reasons.get(e.reason);
    if (c === undefined) {
      const protocol = HTTP_PROTOCOL_LABEL[e.protocol];
      const sc = statusClass(s);
      const { zone, colour, reason } = e;
      c = {
        requests: bindCounter(this.#metrics.httpRequests, {
          protocol,
          zone,
          colour,
          reason,
          status_class: sc,
        }),
        duration: bindHistogram(this.#metrics.httpRequestDuration, {
          protocol,
          zone,
          colour,
          status_class: sc,
        }),
      };
      if (this.#cached < MAX_CACHED) {
        reasons.set(e.reason, c);
        this.#cached++;
      }
    }
    c.requests.inc();
    // Prometheus convention: seconds, with the sub-millisecond precision the stage measured.
    c.duration.observe(e.durationMs / 1000);
  }
}

/**
 * A metric's label children made once per label-value tuple (bounded value sets only), found
 * again through nested maps: a lookup takes up to four fixed arguments, so it builds no array,
 * key string or label object.
 */
class Children<T> {
  readonly #arity: number;
  readonly #make: (values: readonly string[]) => T;
  readonly #root = new Map<string, unknown>();

  constructor(arity: number, make: (values: readonly string[]) => T) {
    this.#arity = arity;
    this.#make = make;
  }

  get(a: string, b = '', c = '', d = ''): T {
    let m = this.#root;
    const n = this.#arity;
    for (let i = 0; i < n - 1; i++) {
      const v = i === 0 ? a : i === 1 ? b : c;
      let next = m.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map<string, unknown>();
        m.set(v, next);
      }
      m = next;
    }
    const last = n === 1 ? a : n === 2 ? b : n === 3 ? c : d;
    let child = m.get(last) as T | undefined;
    if (child === undefined) {
      child = this.#make([a, b, c, d].slice(0, n));
      m.set(last, child);
    }
    return child;
  }
}

/** Children of a counter or gauge whose label values are given in the order of `names`. */
function childrenOf<L extends string, T>(
  metric: { labels(labels: LabelValues<L>): T },
  names: readonly L[],
): Children<T> {
  return new Children(names.length, (values) => {
    const labels: LabelValues<L> = {};
    names.forEach((n, i) => (labels[n] = values[i] as string));
    return metric.labels(labels);
  });
}

export interface MetricsSubscriberOptions {
  /** The config's listeners: a listener event's name gives the `protocol` label. */
  readonly listeners: readonly ListenerConfig[];
}

/**
 * Subscribe `metrics` to everything published on `bus`; returns the function that stops it.
 * The composition root calls this once per gateway (and the log subscriber beside it).
 */
export function subscribeMetrics(
  bus: EventBus,
  metrics: Metrics,
  options: MetricsSubscriberOptions,
): () => void {
  const requests = new RequestSeries(metrics);
  const connections = childrenOf(metrics.connections, ['protocol']);
  const cookieRejections = childrenOf(metrics.cookieRejections, ['reason']);
  const upstreamErrors = childrenOf(metrics.upstreamErrors, ['protocol', 'zone', 'upstream', 'kind']);
  // Upstream requests are HTTP/1.1 whatever the client spoke.
  const upstreamLatency = new Children(2, (v) =>
    bindHistogram(metrics.upstreamLatency, { protocol: 'http', zone: v[0], colour: v[1] }),
  );
  const retries = childrenOf(metrics.upstreamRetries, ['zone', 'colour']);
  const ejections = childrenOf(metrics.upstreamEjections, ['zone', 'upstream']);
  const healthChanges = childrenOf(metrics.upstreamHealthChanges, ['upstream', 'healthy']);
  const healthy = childrenOf(metrics.upstreamHealthy, ['upstream']);
  const internalErrors = childrenOf(metrics.internalErrors, ['protocol']);
  const mqttConnects = childrenOf(metrics.mqttConnects, ['zone', 'colour', 'reason', 'result']);
  const onListener = listenerEventMetrics(metrics, options.listeners);
  const offs = [
    bus.requestDone.subscribe((e) => {
      requests.observe(e);
      if (e.upstreamMs >= 0 && e.protocol !== 'websocket') {
        upstreamLatency.get(e.zone, e.colour).observe(e.upstreamMs / 1000);
      }
    }),
    // http / https: the listener's protocol, so the label matches zonegate_connections_active.
    bus.connection.subscribe((e) => connections.get(e.protocol).inc()),
    bus.cookieRejected.subscribe((e) => cookieRejections.get(e.reason).inc()),
    bus.upstreamError.subscribe((e) =>
      upstreamErrors
        .get(e.protocol === 'ws' ? 'http' : e.protocol, e.zone, e.upstream, upstreamErrorKind(e.code))
        .inc(),
    ),
    bus.retry.subscribe((e) => retries.get(e.zone, e.colour).inc()),
    bus.ejection.subscribe((e) => ejections.get(e.zone, e.upstream).inc()),
    bus.healthChange.subscribe((e) => {
      healthChanges.get(e.upstream, e.healthy ? 'true' : 'false').inc();
      healthy.get(e.upstream).set(e.healthy ? 1 : 0);
    }),
    bus.internalError.subscribe((e) => internalErrors.get(HTTP_PROTOCOL_LABEL[e.protocol]).inc()),
    bus.zonemap.subscribe((e) => {
      if (e.type === 'applied') metrics.recordApply(e.version, e.applySeconds);
      else if (e.type === 'refused') metrics.zonemapInvalid.inc();
    }),
    bus.listener.subscribe(onListener),
    bus.mqttConnect.subscribe((e) =>
      mqttConnects
        .get(
          e.zone === '' ? 'none' : e.zone,
          e.colour === '' ? 'none' : e.colour,
          e.reason === '' ? 'none' : e.reason,
          e.result === 0 ? 'ok' : connackLabel(e.result),
        )
        .inc(),
    ),
    bus.mqttMove.subscribe((e) => {
      // mode: why it moved (down | drain | rebalance | shutdown); result: ok | failed | disconnected.
      metrics.mqttMigrations.inc({ mode: e.cause, result: e.result });
      metrics.mqttMovesFinished.inc({ cause: e.cause, result: e.result, reason: e.reason });
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** undici / socket error codes → a handful of kinds an operator acts on differently. */
export function upstreamErrorKind(code: string): string {
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND') {
    return 'connect';
  }
  if (code.includes('TIMEOUT') || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') {
    return 'reset';
  }
  return 'protocol';
}

/** OpenSSL / Node TLS error codes → the bounded `reason` label. */
export function tlsFailureReason(code: string): TlsFailureReason {
  if (code.includes('TIMEOUT')) return 'timeout';
  if (code.includes('PEER_DID_NOT_RETURN_A_CERTIFICATE') || code.includes('NO_CERTIFICATE'))
    return 'no-client-cert';
  if (code.includes('CERTIFICATE') || code.includes('UNKNOWN_CA') || code.includes('REVOKED'))
    return 'bad-client-cert';
  if (code.startsWith('ERR_SSL_')) return 'protocol';
  return 'other';
}

function listenerEventMetrics(
  metrics: Metrics,
  listeners: readonly ListenerConfig[],
): (e: ListenerEvent) => void {
  const protocolOf = new Map<string, ProtocolLabel>(listeners.map((l) => [l.name, l.protocol]));
  return (e) => {
    const protocol = protocolOf.get(e.listener) ?? 'https';
    switch (e.type) {
      case 'tls-handshake':
        metrics.tlsHandshakes.inc({ protocol, version: e.protocol });
        return;
      case 'tls-error':
        metrics.tlsHandshakeFailures.inc({ protocol, reason: tlsFailureReason(e.code) });
        return;
      case 'proxy-error':
        metrics.connectionsRefused.inc({ protocol, reason: 'proxy-error' });
        return;
      case 'connection-refused':
        metrics.connectionsRefused.inc({ protocol, reason: e.reason });
        return;
      case 'tls-reloaded':
      case 'tls-reload-failed':
        // The certificate expiry gauge is read at scrape time; the log subscriber reports these.
        return;
    }
  };
}
