/**
 * The one Prometheus registry of a Zonegate process (docs/design.md "Metrics").
 *
 * Every family is prefixed `zonegate_`. Labels are bounded sets only — protocol, zone, colour,
 * route reason, status class, upstream address, result/reason codes — never a uid or an MQTT
 * client id: one label value per user would grow the registry without bound and take the
 * scrape (and Prometheus) down with it.
 *
 * With `--workers N` each worker keeps its own registry; the primary sums them on scrape
 * (see cluster-metrics.ts). Families whose sum is meaningless (versions, timestamps, the
 * draining flag) declare `aggregator: 'max'` so the summed view stays true.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'zonegate_';

/** Listener-level protocol of a connection or request. */
export type ProtocolLabel = 'http' | 'https' | 'h2' | 'ws' | 'mqtt' | 'mqtts' | 'admin';
/** `1xx` … `5xx`; a bounded stand-in for the status code. */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'protocol' | 'no-upstream';
export type TlsFailureReason = 'timeout' | 'no-client-cert' | 'bad-client-cert' | 'protocol' | 'other';
export type PacketDirection = 'in' | 'out';
export type MigrationMode = 'drain' | 'down' | 'rebalance' | 'shutdown';
export type MigrationResult = 'ok' | 'failed';
export type CookieRejection = 'malformed' | 'unknown-key' | 'bad-signature' | 'expired';
export type ApplyResult = 'applied' | 'invalid';

/** Latency buckets (seconds) from 0.5 ms to 10 s: a gateway hop is sub-millisecond when healthy. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Draining an old MQTT session after a move: the quiet wait alone is 2 x 500 ms by default. */
const DRAIN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60];
/** Zone map apply is parse + validate + compile + swap: microseconds to a few hundred ms. */
const APPLY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'protocol' | 'zone' | 'colour' | 'reason' | 'status_class'>;
  readonly httpRequestDuration: Histogram<'protocol' | 'zone' | 'colour' | 'status_class'>;
  readonly connectionsActive: Gauge<'protocol'>;
  readonly connections: Counter<'protocol'>;
  readonly upstreamLatency: Histogram<'protocol' | 'zone' | 'colour'>;
  readonly upstreamErrors: Counter<'protocol' | 'zone' | 'upstream' | 'kind'>;
  readonly upstreamRetries: Counter<'zone' | 'colour'>;
  readonly upstreamEjections: Counter<'zone' | 'upstream'>;
  readonly upstreamHealthChanges: Counter<'upstream' | 'healthy'>;
  readonly upstreamHealthy: Gauge<'upstream'>;
  readonly internalErrors: Counter<'protocol'>;
  readonly tlsHandshakes: Counter<'protocol' | 'version'>;
  readonly tlsHandshakeFailures: Counter<'protocol' | 'reason'>;
  /** Connections a listener closed before any stage saw them (RefusalReason or `proxy-error`). */
  readonly connectionsRefused: Counter<'protocol' | 'reason'>;
  readonly mqttConnects: Counter<'zone' | 'colour' | 'reason' | 'result'>;
  readonly mqttPackets: Counter<'type' | 'direction'>;
  readonly mqttMigrations: Counter<'mode' | 'result'>;
  readonly mqttMovesStarted: Counter<'cause'>;
  readonly mqttMovesFinished: Counter<'cause' | 'result' | 'reason'>;
  readonly mqttSessions: Gauge<'zone'>;
  readonly mqttDrains: Counter<'zone' | 'result' | 'reason'>;
  readonly mqttDrainedMessages: Counter<'zone'>;
  readonly mqttDrainSeconds: Histogram<'result'>;
  readonly cookieRejections: Counter<'reason'>;
  readonly zonemapVersion: Gauge;
  readonly zonemapApplySeconds: Histogram;
  readonly zonemapLastApplyTimestamp: Gauge;
  readonly zonemapInvalid: Counter;
  readonly draining: Gauge;
  readonly tlsCertificateNotAfter: Gauge<'listener'>;
  /** Record one applied zone map: version gauge, apply latency, last-apply time. */
  recordApply(version: number, seconds: number, nowMs?: number): void;
  /**
   * Label every series with this gateway's IDC (one value per process, so bounded): the
   * dashboards compare IDCs, and a pod scraped through a LoadBalancer carries no IDC label.
   */
  setIdc(idc: string): void;
  /**
   * Report `connections_active{protocol}` from a counter the listener already keeps, read at
   * scrape time: nothing to do per connection.
   */
  trackConnections(protocol: ProtocolLabel, count: () => number): void;
  /** Report a listener's earliest certificate expiry, read at scrape time (reloads included). */
  trackCertificate(listener: string, notAfterMs: () => number | null): void;
}

export interface CreateMetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC); on for the process-wide default. */
  readonly defaultMetrics?: boolean;
}

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const p = METRIC_PREFIX;

  const connectionSources: [ProtocolLabel, () => number][] = [];
  const certificateSources: [string, () => number | null][] = [];
  const zonemapVersion = new Gauge({
    name: `${p}zonemap_version`,
    help: 'Version of the zone map this process routes with (0 = none loaded).',
    registers,
    aggregator: 'max',
  });
  const zonemapApplySeconds = new Histogram({
    name: `${p}zonemap_apply_seconds`,
    help: 'Time from the zone map source handing over a new, compiled map until every stage (HTTP targets, MQTT moves) routes by it.',
    buckets: APPLY_BUCKETS,
    registers,
  });
  const zonemapLastApplyTimestamp = new Gauge({
    name: `${p}zonemap_last_apply_timestamp_seconds`,
    help: 'Unix time of the last applied zone map.',
    registers,
    aggregator: 'max',
  });

  const metrics: Metrics = {
    registry,
    httpRequests: new Counter({
      name: `${p}http_requests_total`,
      help: 'HTTP requests answered, by protocol, zone, colour, route reason and status class.',
      labelNames: ['protocol', 'zone', 'colour', 'reason', 'status_class'] as const,
      registers,
    }),
    httpRequestDuration: new Histogram({
      name: `${p}http_request_duration_seconds`,
      help: 'Time from request head received to response end, as the client sees it.',
      labelNames: ['protocol', 'zone', 'colour', 'status_class'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    connectionsActive: new Gauge({
      name: `${p}connections_active`,
      help: 'Client connections open now, by protocol.',
      labelNames: ['protocol'] as const,
      registers,
      collect() {
        // Sum per protocol: several listeners may share one (two https ports).
        const totals = new Map<ProtocolLabel, number>();
        for (const [protocol, count] of connectionSources)
          totals.set(protocol, (totals.get(protocol) ?? 0) + count());
        for (const [protocol, n] of totals) this.set({ protocol }, n);
      },
    }),
    connections: new Counter({
      name: `${p}connections_total`,
      help: 'Client connections accepted, by protocol.',
      labelNames: ['protocol'] as const,
      registers,
    }),
    upstreamLatency: new Histogram({
      name: `${p}upstream_latency_seconds`,
      help: 'Time from sending a request to an upstream to its response head, by zone and colour.',
      labelNames: ['protocol', 'zone', 'colour'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamErrors: new Counter({
      name: `${p}upstream_errors_total`,
      help: 'Failed upstream attempts, by zone, upstream address and kind.',
      labelNames: ['protocol', 'zone', 'upstream', 'kind'] as const,
      registers,
    }),
    upstreamRetries: new Counter({
      name: `${p}upstream_retries_total`,
      help: 'Idempotent requests retried once on another endpoint of the same zone and colour after a connect error.',
      labelNames: ['zone', 'colour'] as const,
      registers,
    }),
    upstreamEjections: new Counter({
      name: `${p}upstream_ejections_total`,
      help: 'Endpoints taken out for upstream.ejection.ejectMs after consecutive failed requests, by zone and upstream address.',
      labelNames: ['zone', 'upstream'] as const,
      registers,
    }),
    upstreamHealthChanges: new Counter({
      name: `${p}upstream_health_changes_total`,
      help: 'Verdict changes of the active health check, by upstream address and new state (healthy="true" | "false").',
      labelNames: ['upstream', 'healthy'] as const,
      registers,
    }),
    upstreamHealthy: new Gauge({
      name: `${p}upstream_healthy`,
      help: 'Active health check verdict per upstream address (1 healthy, 0 unhealthy); absent until the first change.',
      labelNames: ['upstream'] as const,
      registers,
      // Workers probe the same endpoints; one unhealthy verdict is the one to see.
      aggregator: 'min',
    }),
    internalErrors: new Counter({
      name: `${p}internal_errors_total`,
      help: 'Requests that hit a bug in the gateway (answered 500 ZG_ERR_INTERNAL, stack in the log), by protocol.',
      labelNames: ['protocol'] as const,
      registers,
    }),
    tlsHandshakes: new Counter({
      name: `${p}tls_handshakes_total`,
      help: 'Completed TLS handshakes, by listener protocol and TLS version.',
      labelNames: ['protocol', 'version'] as const,
      registers,
    }),
    tlsHandshakeFailures: new Counter({
      name: `${p}tls_handshake_failures_total`,
      help: 'Failed TLS handshakes, by listener protocol and reason.',
      labelNames: ['protocol', 'reason'] as const,
      registers,
    }),
    connectionsRefused: new Counter({
      name: `${p}connections_refused_total`,
      help: 'Connections a listener closed before serving them, by listener protocol and reason (max-connections, client-connections, untrusted-proxy, pending-evicted, resumed-cert-untrusted, proxy-error).',
      labelNames: ['protocol', 'reason'] as const,
      registers,
    }),
    mqttConnects: new Counter({
      name: `${p}mqtt_connects_total`,
      help: 'MQTT CONNECTs answered, by zone, colour, route reason and CONNACK result.',
      labelNames: ['zone', 'colour', 'reason', 'result'] as const,
      registers,
    }),
    mqttPackets: new Counter({
      name: `${p}mqtt_packets_total`,
      help: 'MQTT control packets relayed, by packet type and direction (in = from clients).',
      labelNames: ['type', 'direction'] as const,
      registers,
    }),
    mqttMigrations: new Counter({
      name: `${p}mqtt_migrations_total`,
      help: 'MQTT sessions moved to another zone, by mode and result.',
      labelNames: ['mode', 'result'] as const,
      registers,
    }),
    mqttMovesStarted: new Counter({
      name: `${p}mqtt_moves_started_total`,
      help: 'Transparent MQTT moves started, by cause (down | drain | rebalance | shutdown).',
      labelNames: ['cause'] as const,
      registers,
    }),
    mqttMovesFinished: new Counter({
      name: `${p}mqtt_moves_finished_total`,
      help: 'MQTT moves finished, by cause, result (ok | failed | disconnected) and, for failed ones, reason.',
      labelNames: ['cause', 'result', 'reason'] as const,
      registers,
    }),
    mqttSessions: new Gauge({
      name: `${p}mqtt_sessions`,
      help: 'MQTT sessions relayed now, by the zone they live in.',
      labelNames: ['zone'] as const,
      registers,
    }),
    mqttDrains: new Counter({
      name: `${p}mqtt_drains_total`,
      help: 'Old MQTT sessions drained after a move, by their zone, result (done | abandoned) and reason.',
      labelNames: ['zone', 'result', 'reason'] as const,
      registers,
    }),
    mqttDrainedMessages: new Counter({
      name: `${p}mqtt_drained_messages_total`,
      help: 'Messages relayed to clients from their old sessions after a move, by the old zone.',
      labelNames: ['zone'] as const,
      registers,
    }),
    mqttDrainSeconds: new Histogram({
      name: `${p}mqtt_drain_seconds`,
      help: 'Time from a move switching a client to its new session until its old session was left, by result.',
      labelNames: ['result'] as const,
      buckets: DRAIN_BUCKETS,
      registers,
    }),
    cookieRejections: new Counter({
      name: `${p}cookie_rejections_total`,
      help: 'ldc cookies ignored, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    zonemapVersion,
    zonemapApplySeconds,
    zonemapLastApplyTimestamp,
    zonemapInvalid: new Counter({
      name: `${p}zonemap_invalid_total`,
      help: 'Zone maps refused as invalid (the last good map stays in use).',
      registers,
    }),
    draining: new Gauge({
      name: `${p}draining`,
      help: '1 while this gateway drains (healthz fails), else 0.',
      registers,
      aggregator: 'max',
    }),
    tlsCertificateNotAfter: new Gauge({
      name: `${p}tls_certificate_not_after_timestamp_seconds`,
      help: 'Expiry (unix seconds) of the earliest-expiring certificate a TLS listener serves.',
      labelNames: ['listener'] as const,
      registers,
      // Workers load the same files; the earliest is the one that matters.
      aggregator: 'min',
      collect() {
        for (const [listener, notAfterMs] of certificateSources) {
          const ms = notAfterMs();
          if (ms !== null) this.set({ listener }, ms / 1000);
        }
      },
    }),
    recordApply(version: number, seconds: number, nowMs: number = Date.now()): void {
      zonemapVersion.set(version);
      zonemapApplySeconds.observe(seconds);
      zonemapLastApplyTimestamp.set(nowMs / 1000);
    },
    setIdc(idc: string): void {
      registry.setDefaultLabels({ idc });
    },
    trackConnections(protocol: ProtocolLabel, count: () => number): void {
      connectionSources.push([protocol, count]);
    },
    trackCertificate(listener: string, notAfterMs: () => number | null): void {
      certificateSources.push([listener, notAfterMs]);
    },
  };
  metrics.draining.set(0);
  metrics.zonemapVersion.set(0);
  if (options.defaultMetrics === true) {
    collectDefaultMetrics({ register: registry, prefix: p });
    // prom-client names three gauges `..._total`, a suffix Prometheus reserves for counters
    // (`promtool check metrics` refuses them). Their by-type siblings without the suffix stay;
    // `sum without (type) (zonegate_nodejs_active_handles)` gives the same total.
    for (const kind of ['handles', 'requests', 'resources']) {
      registry.removeSingleMetric(`${p}nodejs_active_${kind}_total`);
    }
  }
  return metrics;
}

/** `404` → `4xx`. Anything outside 100..599 counts as `5xx`: the gateway failed to answer properly. */
export function statusClass(status: number): StatusClass {
  if (status >= 100 && status < 200) return '1xx';
  if (status >= 200 && status < 300) return '2xx';
  if (status >= 300 && status < 400) return '3xx';
  if (status >= 400 && status < 500) return '4xx';
  return '5xx';
}

/** The process-wide registry HTTP, MQTT and zone map code record into. */
export const metrics: Metrics = createMetrics({ defaultMetrics: true });
