/**
 * The serving stages: zone map source → ZoneMapHolder → HTTP stage and its listeners → MQTT
 * stage, and one close() that takes them down gracefully in the reverse order. The process
 * around them (metrics, admin, drain, workers) is composed in ./process.ts, which hands in its
 * undo list so a failed start anywhere unwinds the stages too.
 */
import type { AddressInfo } from 'node:net';
import type { GatewayConfig, ListenerConfig } from '../core/config.js';
import { InvalidConfigError } from '../core/errors.js';
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
import { UndoList } from './undo.js';

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
  /**
   * The process's teardown list: every started part pushes its undo here, and a failure
   * anywhere is unwound by the list's owner. Without one, startGateway keeps its own and
   * unwinds it when the start fails.
   */
  readonly undo?: UndoList;
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly holder: ZoneMapHolder;
  /** Where the maps come from ('map', 'invalid' and 'error' events); closed by close(). */
  readonly source: ZoneMapSource;
  readonly http: HttpStage;
  readonly listeners: readonly Listener[];
  /** The MQTT stage (its listeners, and `server.drain` for the graceful drain). */
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

/**
 * The config's `idc` must be one the zone map knows: the gateway decides "local" and "remote"
 * zones by it. A config error (CLI exit 2 with the reason), not a crash.
 */
export function checkIdcInMap(idc: string, map: CompiledZoneMap): void {
  if (map.idcs.has(idc)) return;
  throw new InvalidConfigError([
    {
      // The whole-document form: the reason already names the field.
      path: '',
      message: `the config's idc ${idc} is not in zone map version ${map.version} (it has ${[...map.idcs.keys()].join(', ')})`,
    },
  ]);
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
  // One teardown for a start that fails half way: each stage pushes its undo as it starts,
  // and a failure anywhere unwinds them newest first, so nothing started keeps us alive.
  const undo = o.undo ?? new UndoList();
  undo.push(() => source.close());
  try {
    const first: CompiledZoneMap = await source.start();
    return await startStages(o, source, first, keyring, undo);
  } catch (err) {
    // A list handed in belongs to the caller, who unwinds it with the rest of the process.
    if (o.undo === undefined) await undo.unwind();
    throw err;
  }
}

async function startStages(
  o: GatewayOptions,
  source: ZoneMapSource,
  first: CompiledZoneMap,
  keyring: CookieKeyring | null,
  undo: UndoList,
): Promise<Gateway> {
  const cfg = o.config;
  const events = o.events ?? new EventBus();
  checkIdcInMap(cfg.idc, first);
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
    source,
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
