/**
 * The one stream of facts a gateway publishes (docs/design.md "Events, metrics and logs").
 *
 * Every stage (HTTP, WebSocket, MQTT, listeners, upstream health, zone map holder) publishes
 * what happened here and knows nothing of Prometheus or pino. Exactly two subscribers turn the
 * facts into output: the metrics subscriber (src/admin/http-metrics.ts) and the log subscriber
 * (src/core/logger.ts). A fact is therefore counted once and logged once, by construction.
 *
 * Why a small typed bus and not `node:diagnostics_channel`: channels there are process-global
 * by name, and a process may run several gateways (tests, the lab fleet) that must not see each
 * other's traffic; a bus per gateway is plain data. The cost model is the same as a diagnostics
 * channel's: a publisher checks `channel.active` (the subscriber array's length) before building an event,
 * so a fact nobody listens to costs nothing, and `publish` is a loop over an array — no
 * EventEmitter lookup, no per-call closure. Subscribers run synchronously on the publisher's
 * stack, so they must be cheap and must not keep the event object: publishers may reuse it.
 */

/** A subscriber that throws must not break the request that published: its error goes here. */
export type SubscriberFailure = (err: unknown, channel: string) => void;

export class Channel<T> {
  readonly name: string;
  #subscribers: ((event: T) => void)[] = [];
  readonly #onFailure: SubscriberFailure;

  constructor(name: string, onFailure: SubscriberFailure) {
    this.name = name;
    this.#onFailure = onFailure;
  }

  /** True while someone subscribes: check it before building an event. */
  get active(): boolean {
    return this.#subscribers.length > 0;
  }

  subscribe(fn: (event: T) => void): () => void {
    // Copy on write: a publish running while someone (un)subscribes sees a stable array.
    this.#subscribers = [...this.#subscribers, fn];
    return () => {
      this.#subscribers = this.#subscribers.filter((s) => s !== fn);
    };
  }

  publish(event: T): void {
    const subs = this.#subscribers;
    for (let i = 0; i < subs.length; i++) {
      try {
        (subs[i] as (event: T) => void)(event);
      } catch (err) {
        this.#onFailure(err, this.name);
      }
    }
  }
}

/* ------------------------------------------------------------------------------------------
 * Event types. Labels that reach metrics are bounded: zone, colour, reason, status, upstream
 * address, result codes — never a uid or a client id.
 * ---------------------------------------------------------------------------------------- */

export type HttpProtocol = 'http1' | 'http2' | 'websocket';

/** An HTTP protocol as metrics label it and the access log writes it. */
export const HTTP_PROTOCOL_LABEL: Readonly<Record<HttpProtocol, 'http' | 'h2' | 'ws'>> = {
  http1: 'http',
  http2: 'h2',
  websocket: 'ws',
};

/** What the access log needs beyond the routing result (src/http/request-trace.ts fills it). */
export interface RequestTraceView {
  readonly id: string;
  readonly trace: { readonly traceId: string; readonly spanId: string; readonly parentSpanId: string | null };
  readonly clientAddress: string;
  readonly host: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The full error message, which the client is not shown; '' when none. */
  readonly detail: string;
}

/**
 * One HTTP request (or WebSocket upgrade) answered or given up. Published once per request by
 * the HTTP stage and by the raw-socket fast path alike: see {@link publishRequestDone}.
 */
export interface RequestDoneEvent {
  readonly protocol: HttpProtocol;
  /** '' when the request was refused before routing. */
  readonly zone: string;
  readonly colour: string;
  /** The router's reason, or the error code of a refused / failed request. */
  readonly reason: string;
  readonly status: number;
  /** Request head received → response end, milliseconds with sub-millisecond precision. */
  readonly durationMs: number;
  /** `host:port` of the upstream that answered (after a retry: the second one); '' when none. */
  readonly upstream: string;
  /**
   * First upstream dispatch → the upstream's response head, ms (queueing for a pooled connection
   * and a retry included: what the user waited for); -1 when no upstream answered. WebSocket:
   * the tunnel's whole life.
   */
  readonly upstreamMs: number;
  /** '' when the parser refused the request before there was one. */
  readonly method: string;
  /** The request target as received: subscribers that log it cut it to its path first. */
  readonly target: string;
  readonly trace: RequestTraceView | null;
}

export type UpstreamProtocol = 'http' | 'ws' | 'mqtt';

/** A failed upstream attempt (connect error, reset, timeout), with the zone it was for. */
export interface UpstreamErrorEvent {
  readonly protocol: UpstreamProtocol;
  readonly zone: string;
  readonly colour: string;
  readonly upstream: string;
  /** undici / socket error code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, …). */
  readonly code: string;
}

/** An idempotent request retried once on another endpoint of the same zone and colour. */
export interface RetryEvent {
  readonly zone: string;
  readonly colour: string;
  readonly from: string;
  readonly to: string;
  readonly code: string;
}

/**
 * Passive ejection: an endpoint is skipped for a while — an HTTP endpoint after
 * `upstream.ejection.consecutiveFailures` failed requests in a row, an MQTT broker at its first
 * failed connect (refused, dropped, timed out, or a server-side CONNACK failure).
 */
export interface EjectionEvent {
  readonly protocol: UpstreamProtocol;
  readonly zone: string;
  readonly upstream: string;
  readonly ejectMs: number;
  /** What the last failure was (an error code, or the broker's refusal). */
  readonly reason: string;
}

/** The active health checker changed its verdict on an endpoint. */
export interface HealthChangeEvent {
  readonly protocol: UpstreamProtocol;
  readonly upstream: string;
  readonly healthy: boolean;
}

/** A bug: a request handler threw and the client got a 500. */
export interface InternalErrorEvent {
  readonly protocol: HttpProtocol;
  readonly err: unknown;
}

export type ZoneMapEvent =
  | {
      readonly type: 'applied';
      readonly version: number;
      readonly previous: number;
      /** Swap start → every stage routes by the new map. */
      readonly applySeconds: number;
    }
  /** Refused as invalid: the last good map stays. */
  | { readonly type: 'refused'; readonly error: Error }
  /** The source (file watch, Redis) had trouble; the current map stays. */
  | { readonly type: 'source-error'; readonly error: Error };

/** Why a listener closed a connection before any stage saw it. */
export type RefusalReason =
  'max-connections' | 'client-connections' | 'untrusted-proxy' | 'pending-evicted' | 'resumed-cert-untrusted';

export type ListenerEvent =
  | { readonly type: 'proxy-error'; readonly listener: string; readonly message: string }
  | { readonly type: 'tls-error'; readonly listener: string; readonly code: string; readonly message: string }
  | {
      readonly type: 'tls-handshake';
      readonly listener: string;
      readonly protocol: string;
      readonly resumed: boolean;
    }
  | { readonly type: 'tls-reloaded'; readonly listener: string }
  | { readonly type: 'tls-reload-failed'; readonly listener: string; readonly error: Error }
  | { readonly type: 'connection-refused'; readonly listener: string; readonly reason: RefusalReason };

/** A client connection reached a protocol stage (TLS: handshaken); once per connection. */
export interface ConnectionEvent {
  readonly protocol: 'http' | 'https' | 'mqtt' | 'mqtts';
}

/** An MQTT CONNECT answered: `result` is the CONNACK code (0 accepted, -1 closed without one). */
export interface MqttConnectEvent {
  readonly protocol: string;
  /** The zone routed to; '' when refused before routing. */
  readonly zone: string;
  readonly colour: string;
  readonly reason: string;
  readonly result: number;
}

/** A CONNACK code as a label: `0x85`, `0x02`, or `closed` when the client got none (-1). */
export function connackLabel(code: number): string {
  return code < 0 ? 'closed' : `0x${code.toString(16).padStart(2, '0')}`;
}

/** A transparent MQTT move finished. */
export interface MqttMoveEvent {
  readonly cause: string;
  readonly result: 'ok' | 'failed' | 'disconnected';
  /** Why it failed; 'none' otherwise. */
  readonly reason: string;
}

/** One MQTT session ended (or a CONNECT was refused): the access log's MQTT line. */
export interface MqttSessionEndEvent {
  readonly protocol: string;
  readonly zone: string | null;
  readonly colour: string | null;
  readonly reason: string;
  readonly upstream: string | null;
  /** CONNACK reason / return code sent to the client. */
  readonly result: number;
  readonly durationMs: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  /** Why the session ended, e.g. `client-disconnect`, `drain`, `upstream-closed`. */
  readonly end: string;
}

/** The channels of one gateway. */
export class EventBus {
  readonly requestDone: Channel<RequestDoneEvent>;
  readonly connection: Channel<ConnectionEvent>;
  readonly cookieRejected: Channel<{ readonly reason: string }>;
  readonly upstreamError: Channel<UpstreamErrorEvent>;
  readonly retry: Channel<RetryEvent>;
  readonly ejection: Channel<EjectionEvent>;
  readonly healthChange: Channel<HealthChangeEvent>;
  readonly internalError: Channel<InternalErrorEvent>;
  readonly zonemap: Channel<ZoneMapEvent>;
  readonly listener: Channel<ListenerEvent>;
  readonly mqttConnect: Channel<MqttConnectEvent>;
  readonly mqttMove: Channel<MqttMoveEvent>;
  readonly mqttSessionEnd: Channel<MqttSessionEndEvent>;
  /** Subscriber failures; the log subscriber reports them (a metric bug must not go unseen). */
  readonly subscriberFailure: Channel<{ readonly channel: string; readonly err: unknown }>;

  constructor() {
    const failed: SubscriberFailure = (err, channel) => {
      // A failing failure subscriber is dropped silently: there is nobody left to tell.
      if (channel !== 'subscriberFailure') this.subscriberFailure.publish({ channel, err });
    };
    const ch = <T>(name: string): Channel<T> => new Channel<T>(name, failed);
    this.requestDone = ch('requestDone');
    this.connection = ch('connection');
    this.cookieRejected = ch('cookieRejected');
    this.upstreamError = ch('upstreamError');
    this.retry = ch('retry');
    this.ejection = ch('ejection');
    this.healthChange = ch('healthChange');
    this.internalError = ch('internalError');
    this.zonemap = ch('zonemap');
    this.listener = ch('listener');
    this.mqttConnect = ch('mqttConnect');
    this.mqttMove = ch('mqttMove');
    this.mqttSessionEnd = ch('mqttSessionEnd');
    this.subscriberFailure = ch('subscriberFailure');
  }
}

/**
 * Publish one finished HTTP request — the call every HTTP path makes (Node's http stage,
 * WebSocket, and the raw-socket fast path). Free when nothing subscribes; otherwise one small
 * object per request, which subscribers read synchronously and do not keep.
 */
export function publishRequestDone(
  bus: EventBus,
  protocol: HttpProtocol,
  zone: string,
  colour: string,
  reason: string,
  status: number,
  durationMs: number,
  upstream: string,
  upstreamMs: number,
  method: string,
  target: string,
  trace: RequestTraceView | null,
): void {
  const ch = bus.requestDone;
  if (!ch.active) return;
  ch.publish({
    protocol,
    zone,
    colour,
    reason,
    status,
    durationMs,
    upstream,
    upstreamMs,
    method,
    target,
    trace,
  });
}
