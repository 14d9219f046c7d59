/**
 * Feeds the registry (and the access log) from the HTTP stage's hooks and the listeners'
 * events. The hooks run once per response, so label children are cached: prom-client would
 * otherwise hash a fresh label object on every request.
 */
import type { Logger } from 'pino';
import type { Counter, LabelValues } from 'prom-client';
import type { ListenerConfig } from '../core/config.js';
import type { AccessLog } from '../core/logger.js';
import type { HttpHooks } from '../http/index.js';
import type { ListenerEvent } from '../listeners/index.js';
import { statusClass, type Metrics, type ProtocolLabel, type TlsFailureReason } from './metrics.js';

type HookProtocol = 'http1' | 'http2' | 'websocket';

const PROTOCOL_LABEL: Readonly<Record<HookProtocol, ProtocolLabel>> = {
  http1: 'http',
  http2: 'h2',
  websocket: 'ws',
};

interface Children {
  readonly requests: { inc(): void };
  readonly duration: { observe(v: number): void };
}

/** Bound on cached label sets; beyond it we fall back to uncached (still bounded labels). */
const MAX_CACHED = 10_000;

/** A one-label counter whose label children are made once per value (bounded value sets only). */
class CachedCounter<L extends string> {
  readonly #counter: Counter<L>;
  readonly #label: L;
  readonly #children = new Map<string, { inc(): void }>();

  constructor(counter: Counter<L>, label: L) {
    this.#counter = counter;
    this.#label = label;
  }

  inc(value: string): void {
    let c = this.#children.get(value);
    if (c === undefined) {
      c = this.#counter.labels({ [this.#label]: value } as LabelValues<L>);
      this.#children.set(value, c);
    }
    c.inc();
  }
}

export function httpMetricsHooks(metrics: Metrics, accessLog?: AccessLog, logger?: Logger): HttpHooks {
  const cache = new Map<string, Children>();
  const children = (
    protocol: ProtocolLabel,
    zone: string,
    colour: string,
    reason: string,
    status: number,
  ): Children => {
    const sc = statusClass(status);
    const key = `${protocol}\u0000${zone}\u0000${colour}\u0000${reason}\u0000${sc}`;
    let c = cache.get(key);
    if (c === undefined) {
      c = {
        requests: metrics.httpRequests.labels({ protocol, zone, colour, reason, status_class: sc }),
        duration: metrics.httpRequestDuration.labels({ protocol, zone, colour, status_class: sc }),
      };
      if (cache.size < MAX_CACHED) cache.set(key, c);
    }
    return c;
  };
  const cookieRejections = new CachedCounter(metrics.cookieRejections, 'reason');
  const connections = new CachedCounter(metrics.connections, 'protocol');
  return {
    onResponse(protocol, zone, colour, reason, status, ms, method, target, upstream, trace) {
      const p = PROTOCOL_LABEL[protocol];
      const c = children(p, zone, colour, reason, status);
      c.requests.inc();
      c.duration.observe(ms / 1000);
      if (accessLog === undefined) return;
      // The access log samples, and cuts `target` to its path only for lines it writes.
      if (trace === undefined || trace === null) {
        accessLog.http({
          protocol: p,
          method,
          path: target,
          status,
          zone,
          colour,
          reason,
          upstream,
          durationMs: ms,
        });
        return;
      }
      const t = trace.trace;
      accessLog.http({
        protocol: p,
        requestId: trace.id,
        client: trace.clientAddress,
        host: trace.host,
        method,
        path: target,
        status,
        bytesIn: trace.bytesIn,
        bytesOut: trace.bytesOut,
        zone,
        colour,
        reason,
        upstream,
        // `ms` runs from the routing decision, i.e. the upstream exchange when there was one.
        ...(upstream === '' ? {} : { upstreamMs: ms }),
        durationMs: Date.now() - trace.received,
        traceId: t.traceId,
        spanId: t.spanId,
        ...(t.parentSpanId === null ? {} : { parentSpanId: t.parentSpanId }),
        ...(trace.detail === '' ? {} : { detail: trace.detail }),
      });
    },
    // http / https: the listener's protocol, so the label matches zonegate_connections_active.
    onConnection(protocol) {
      connections.inc(protocol);
    },
    onCookieRejected(reason) {
      cookieRejections.inc(reason);
    },
    // A bug in the gateway: the request itself is counted by onResponse (reason
    // ZG_ERR_INTERNAL); the stack goes to the operator's log, whatever the access-log sampling.
    onInternalError(err) {
      logger?.error({ err, code: 'ZG_ERR_INTERNAL' }, 'internal error while handling an HTTP request');
    },
    onUpstreamError(address, code) {
      metrics.upstreamErrors.inc({
        protocol: 'http',
        zone: '',
        upstream: address,
        kind: upstreamErrorKind(code),
      });
    },
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

export function listenerEventMetrics(
  metrics: Metrics,
  listeners: readonly ListenerConfig[],
  logger?: Logger,
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
      case 'tls-reload-failed':
        logger?.error(
          { err: e.error, listener: e.listener },
          'certificate reload failed; old certificates stay',
        );
        return;
      case 'tls-reloaded':
        logger?.info({ listener: e.listener }, 'certificates reloaded');
        return;
      case 'proxy-error':
        metrics.connectionsRefused.inc({ protocol, reason: 'proxy-error' });
        logger?.warn({ event: e }, 'listener refused a connection');
        return;
      case 'connection-refused':
        metrics.connectionsRefused.inc({ protocol, reason: e.reason });
        // A flood refuses thousands a second: the counter tells the story, the log must not.
        if (e.reason !== 'client-connections' && e.reason !== 'pending-evicted')
          logger?.warn({ event: e }, 'listener refused a connection');
        return;
    }
  };
}
