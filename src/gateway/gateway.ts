/**
 * The runtime: config → zone map source → ZoneMapHolder → HTTP stage → listeners, and one
 * close() that takes it all down in the reverse order. Protocol stages plug in here:
 * HTTP (this file's owner), MQTT and ops add their start/stop lines in the marked places.
 */
import type { AddressInfo } from 'node:net';
import type { GatewayConfig, ListenerConfig } from '../core/config.js';
import { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { HttpStage } from '../http/index.js';
import { loadCookieKeyring, type CookieKeyring } from '../identity/index.js';
import {
  ClientLimits,
  createListener,
  EdgePolicy,
  type Listener,
  type ListenerEvent,
} from '../listeners/index.js';
import { createMqttStage, type MqttMetricsSink, type MqttStage } from '../mqtt/index.js';
import { createZoneMapSource } from '../zonemap/stores/index.js';
import { ZoneMapHolder, type CompiledZoneMap, type ZoneMapSource } from '../zonemap/index.js';

export interface GatewayOptions {
  readonly config: GatewayConfig;
  /** The zone map source; default from `config.zonemap` (a watched file, or Redis). */
  readonly source?: ZoneMapSource;
  /**
   * Every stage publishes here (src/core/events.ts); the metrics and log subscribers are the
   * caller's. Default: a bus nobody listens to.
   */
  readonly events?: EventBus;
  /** pino; the MQTT stage's own warnings. */
  readonly log?: Logger;
  /** MQTT periodic counters (packets, sessions per zone, drains; src/admin/metrics.ts). */
  readonly metrics?: MqttMetricsSink;
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly holder: ZoneMapHolder;
  readonly http: HttpStage;
  readonly listeners: readonly Listener[];
  /** The MQTT stage (its listeners, and `server.drain` for the graceful drain, issue 6). */
  readonly mqtt: MqttStage;
  /** Bound address of a listener by name (port 0 in the config → the real port). */
  address(listener: string): AddressInfo;
  /** `http://host:port`, `https://…`, `mqtt://…`, `mqtts://…` per listener (HTTP first), for logs and the demo. */
  urls(): { readonly name: string; readonly url: string }[];
  /** SIGHUP: re-read certificates, keys, CAs, CRLs and ticket keys of every TLS listener. */
  reload(): Promise<void>;
  /** Stop accepting, let in-flight requests finish (up to timeouts.shutdownGraceMs), close everything. */
  close(): Promise<void>;
}

function isHttp(l: ListenerConfig): boolean {
  return l.protocol === 'http' || l.protocol === 'https';
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const cfg = o.config;
  // Everything that can fail without holding a handle goes first: a bad key must not leave a
  // started zone map source (a file watcher, a Redis connection) keeping the process alive.
  const keyring = await loadCookieKeyring(cfg.identity.cookie);
  const source = o.source ?? createZoneMapSource(cfg.zonemap, { idc: cfg.idc });
  const first: CompiledZoneMap = await source.start();
  // One teardown for a start that fails half way: each stage pushes its undo as it starts,
  // and a failure anywhere unwinds them newest first, so nothing started keeps us alive.
  const undo: (() => Promise<void>)[] = [() => source.close()];
  try {
    return await startStages(o, source, first, keyring, undo);
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

async function startStages(
  o: GatewayOptions,
  source: ZoneMapSource,
  first: CompiledZoneMap,
  keyring: CookieKeyring | null,
  undo: (() => Promise<void>)[],
): Promise<Gateway> {
  const cfg = o.config;
  const events = o.events ?? new EventBus();
  if (!first.idcs.has(cfg.idc)) {
    throw new Error(`config idc ${cfg.idc} is not in zone map version ${first.version}`);
  }
  const holder = new ZoneMapHolder(first, events);
  source.on('map', (m) => holder.swap(m));
  source.on('invalid', (error) => events.zonemap.publish({ type: 'refused', error }));
  source.on('error', (error) => events.zonemap.publish({ type: 'source-error', error }));

  // One table for every listener: a client's connections count together, whatever the port.
  const clientLimits = new ClientLimits(cfg.limits.clientIp);
  const http = new HttpStage({
    config: cfg,
    map: first,
    keyring,
    edge: new EdgePolicy(cfg.listeners, clientLimits),
    events,
  });
  undo.push(() => http.close(0));
  holder.on('change', (next) => http.setMap(next));

  const onEvent = (e: ListenerEvent): void => {
    if (events.listener.active) events.listener.publish(e);
  };
  const listeners: Listener[] = [];
  // MQTT listeners (mqtt / mqtts) are started by the MQTT stage with the same factory.
  for (const lc of cfg.listeners.filter(isHttp)) {
    // A certificate that cannot be loaded throws here.
    const l = createListener(lc, {
      tlsHandshakeTimeoutMs: cfg.timeouts.tlsHandshakeTimeoutMs,
      proxyProtocolTimeoutMs: cfg.timeouts.proxyProtocolTimeoutMs,
      maxConnections: cfg.limits.maxConnections,
      maxPendingConnections: cfg.limits.maxPendingConnections,
      clientLimits,
      ...(lc.protocol === 'https' ? { alpn: lc.tls?.alpn ?? ['h2', 'http/1.1'] } : {}),
      onConnection: http.onConnection,
      onEvent,
    });
    listeners.push(l);
    undo.push(() => l.stopAccepting());
  }
  for (const l of listeners) await l.start();

  const mqtt = createMqttStage({
    config: cfg,
    holder,
    ...(o.log === undefined ? {} : { logger: o.log }),
    events,
    onEvent,
    clientLimits,
    ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
  });
  undo.push(() => mqtt.close());
  await mqtt.start();

  let closed: Promise<void> | null = null;
  const byName = new Map([...listeners, ...mqtt.listeners].map((l) => [l.name, l]));
  return {
    config: cfg,
    holder,
    http,
    listeners,
    mqtt,
    address(name) {
      const a = byName.get(name)?.address();
      if (a === null || a === undefined) throw new Error(`no bound listener named ${name}`);
      return a;
    },
    urls() {
      // Every listener, MQTT's too: with `port: 0` this is how its port is found.
      return [...byName.values()].map((l) => {
        const a = l.address();
        const host =
          a === null
            ? l.config.host
            : a.address === '0.0.0.0' || a.address === '::'
              ? '127.0.0.1'
              : a.address;
        const scheme = l.config.protocol;
        return {
          name: l.name,
          url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${a?.port ?? l.config.port}`,
        };
      });
    },
    async reload() {
      // Every TLS listener, HTTP's and MQTT's: one SIGHUP renews every certificate.
      const results = await Promise.allSettled([...byName.values()].map((l) => l.reloadTls()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined)
        throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    },
    close() {
      closed ??= (async () => {
        // MQTT first: its clients are told to move before the listeners stop.
        await mqtt.close();
        // stopAccepting resolves once every connection is gone, which http.close brings about.
        const stopped = Promise.all(listeners.map((l) => l.stopAccepting()));
        await http.close(cfg.timeouts.shutdownGraceMs);
        for (const l of listeners) l.destroyConnections();
        await stopped;
        await source.close();
      })();
      return closed;
    },
  };
}
