/**
 * The MQTT stage of the gateway runtime (src/gateway/gateway.ts): one MqttServer for the
 * process, fed by the shared listener code (src/listeners: TCP/TLS/mTLS, PROXY protocol) for
 * every `mqtt` / `mqtts` listener in the config, and the zone map's brokers as upstream
 * endpoints (src/upstream) with the same ejection and active health checks as HTTP endpoints.
 */
import type { AddressInfo } from 'node:net';
import type { GatewayConfig } from '../core/config.js';
import type { EventBus } from '../core/events.js';
import { identityRules } from '../identity/index.js';
import { createListener, type ClientLimits, type Listener, type ListenerEvent } from '../listeners/index.js';
import { BrokerSet, EndpointChecker, type EndpointState } from '../upstream/index.js';
import type { ZoneMapHolder } from '../zonemap/index.js';
import { probeBroker } from './broker-probe.js';
import type { MqttLogger } from './connection.js';
import { MqttServer } from './server.js';
import type { MqttMetricsSink } from './stats.js';

export interface MqttStageOptions {
  readonly config: GatewayConfig;
  readonly holder: ZoneMapHolder;
  /** pino's shape, `(fields, message)`. */
  readonly logger?: MqttLogger;
  /** Connects, refusals, moves and session ends are published here. */
  readonly events?: EventBus;
  readonly metrics?: MqttMetricsSink;
  readonly onEvent?: (e: ListenerEvent) => void;
  /** The process's per-client-address limits, shared with the HTTP listeners. */
  readonly clientLimits?: ClientLimits;
}

export interface MqttStage {
  readonly server: MqttServer;
  readonly listeners: readonly Listener[];
  /** The zone map's brokers and their health. */
  readonly brokers: BrokerSet;
  /** Bind every MQTT listener (and start checking brokers when there is one). */
  start(): Promise<AddressInfo[]>;
  /** Stop accepting, close every MQTT connection, release the listeners. Idempotent. */
  close(): Promise<void>;
}

/** Build the stage (nothing is bound until start). A config without MQTT listeners gets an idle stage. */
export function createMqttStage(o: MqttStageOptions): MqttStage {
  const cfg = o.config;
  const logger = o.logger;
  // A connect that fails costs its client a whole connect timeout: the first failure ejects
  // (HTTP requests count `upstream.ejection.consecutiveFailures`, as one failure may be the request's).
  const brokers = new BrokerSet({ consecutiveFailures: 1, ejectMs: cfg.upstream.ejection.ejectMs });
  const server = new MqttServer({
    brokers,
    holder: o.holder,
    self: { idc: cfg.idc, crossIdc: cfg.crossIdc },
    config: { uid: cfg.identity.mqtt, ...cfg.mqtt },
    ...(logger === undefined ? {} : { logger }),
    ...(o.events === undefined ? {} : { events: o.events }),
    ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
    certUid: identityRules(cfg.identity).certUid ?? undefined,
  });
  const listeners = cfg.listeners
    .filter((l) => l.protocol === 'mqtt' || l.protocol === 'mqtts')
    .map((lc) =>
      createListener(lc, {
        tlsHandshakeTimeoutMs: cfg.timeouts.tlsHandshakeTimeoutMs,
        proxyProtocolTimeoutMs: cfg.timeouts.proxyProtocolTimeoutMs,
        maxConnections: cfg.mqtt.limits.maxConnections,
        maxPendingConnections: cfg.limits.maxPendingConnections,
        ...(o.clientLimits === undefined ? {} : { clientLimits: o.clientLimits }),
        onConnection: (socket) => server.handleSocket(socket, lc.protocol === 'mqtts' ? 'mqtts' : 'mqtt'),
        ...(o.onEvent === undefined ? {} : { onEvent: o.onEvent }),
      }),
    );
  const health = new EndpointChecker<EndpointState>({
    config: cfg.upstream.healthCheck,
    endpoints: () => brokers.endpoints,
    probe: probeBroker,
    onChange: (broker, healthy) => {
      const ev = o.events?.healthChange;
      if (ev?.active === true) ev.publish({ protocol: 'mqtt', upstream: broker.address, healthy });
    },
  });
  let closed: Promise<void> | null = null;
  return {
    server,
    listeners,
    brokers,
    async start() {
      const out: AddressInfo[] = [];
      for (const l of listeners) out.push(await l.start());
      // A process without MQTT listeners has no use for its brokers' health.
      if (listeners.length > 0) health.start();
      return out;
    },
    close() {
      closed ??= (async () => {
        health.stop();
        const stopped = Promise.all(listeners.map((l) => l.stopAccepting()));
        await server.close();
        for (const l of listeners) l.destroyConnections();
        await stopped;
      })();
      return closed;
    },
  };
}
