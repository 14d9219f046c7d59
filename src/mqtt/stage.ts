/**
 * The MQTT stage of the gateway runtime (src/gateway/gateway.ts): one MqttServer for the
 * process, fed by the shared listener code (src/listeners: TCP/TLS/mTLS, PROXY protocol) for
 * every `mqtt` / `mqtts` listener in the config, and the zone map's brokers as upstream
 * endpoints (src/upstream) with the same ejection and active health checks as HTTP endpoints.
 */
import type { AddressInfo } from 'node:net';
import type { GatewayConfig } from '../core/config.js';
import { identityRules } from '../identity/index.js';
import { createListener, type ClientLimits, type Listener, type ListenerEvent } from '../listeners/index.js';
import { BrokerSet, EndpointChecker, type EndpointState } from '../upstream/index.js';
import type { ZoneMapHolder } from '../zonemap/index.js';
import { probeBroker } from './broker-probe.js';
import type { MqttAccessLog, MqttLogger } from './connection.js';
import { MqttServer } from './server.js';
import type { MqttMetricsSink } from './stats.js';

/** The gateway's log shape (message first). */
export interface StageLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface MqttStageOptions {
  readonly config: GatewayConfig;
  readonly holder: ZoneMapHolder;
  readonly log?: StageLog;
  readonly accessLog?: MqttAccessLog;
  readonly metrics?: MqttMetricsSink;
  readonly onEvent?: (e: ListenerEvent) => void;
  /** The process's per-client-address limits, shared with the HTTP listeners. */
  readonly clientLimits?: ClientLimits;
  /** A broker's active health check changed its state (`upstream.healthCheck` thresholds). */
  readonly onBrokerHealth?: (address: string, healthy: boolean) => void;
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
  const log = o.log;
  const logger: MqttLogger | undefined =
    log === undefined
      ? undefined
      : {
          info: (fields, msg) => log.info(msg, fields as Record<string, unknown>),
          warn: (fields, msg) => log.warn(msg, fields as Record<string, unknown>),
        };
  // A connect that fails costs its client a whole connect timeout: the first failure ejects
  // (HTTP requests count `upstream.ejection.consecutiveFailures`, as one failure may be the request's).
  const brokers = new BrokerSet({ consecutiveFailures: 1, ejectMs: cfg.upstream.ejection.ejectMs });
  const server = new MqttServer({
    brokers,
    holder: o.holder,
    self: { idc: cfg.idc, crossIdc: cfg.crossIdc },
    config: { uid: cfg.identity.mqtt, ...cfg.mqtt },
    ...(logger === undefined ? {} : { logger }),
    ...(o.accessLog === undefined ? {} : { accessLog: o.accessLog }),
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
  const onBrokerHealth = o.onBrokerHealth;
  const health = new EndpointChecker<EndpointState>({
    config: cfg.upstream.healthCheck,
    endpoints: () => brokers.endpoints,
    probe: probeBroker,
    onChange: (broker, healthy) => {
      log?.[healthy ? 'info' : 'warn']('mqtt broker health changed', { upstream: broker.address, healthy });
      onBrokerHealth?.(broker.address, healthy);
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
