/**
 * Everything of issue 6 around a running gateway.
 *
 * - `runGatewayProcess` is what `zonegate start` runs: a single process, or with `--workers N`
 *   the cluster primary (src/gateway/workers.ts) and, in each worker, the gateway. It wires the
 *   metrics into the runtime (HTTP hooks, listener events, MQTT sink, upstream latency, access
 *   log) and calls startOperations.
 * - `startOperations` gives one gateway its drain controller (the runtime's own graceful close
 *   is the drain's "finish" step), the admin listener — or in a cluster worker the link to the
 *   primary — signal handling, and the zone map metrics.
 */
import type { Logger } from 'pino';
import type { AdminConfig, DrainConfig, GatewayConfig } from '../core/config.js';
import { EventBus } from '../core/events.js';
import { createAccessLog, createLogger, loggerSink, subscribeLog, type LineSink } from '../core/logger.js';
import { DrainController, installSignalHandlers, type DrainParticipant } from '../gateway/drain.js';
import { startGateway, type Gateway } from '../gateway/gateway.js';
import {
  attachWorker,
  isClusterWorker,
  resolveWorkerCount,
  runPrimary,
  type ClusterPrimary,
  type WorkerAgent,
} from '../gateway/workers.js';
import { createZoneMapSource } from '../zonemap/stores/index.js';
import type { CompiledZoneMap, ZoneMapHolder, ZoneMapSource } from '../zonemap/index.js';
import { startAdminServer, type AdminServer, type ReloadReport } from './admin-server.js';
import { subscribeMetrics } from './http-metrics.js';
import { metrics as processMetrics, type Metrics } from './metrics.js';

export interface OperationsOptions {
  readonly config: { readonly idc: string; readonly admin: AdminConfig; readonly drain: DrainConfig };
  readonly holder: ZoneMapHolder;
  /** To advertise the admin URL through the zone map source; optional for gateways with a fixed map. */
  readonly source?: ZoneMapSource;
  readonly participants: readonly DrainParticipant[];
  /** SIGHUP / POST /reload: certificates and the parts of the config that can change live. */
  readonly reload: () => Promise<ReloadReport>;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (default true; tests that embed a gateway turn it off). */
  readonly handleSignals?: boolean;
  /** Called when the drain is over; default `process.exit`. */
  readonly exit?: (code: number) => void;
}

export interface Operations {
  readonly drain: DrainController;
  /** null in a cluster worker: the primary runs the admin listener. */
  readonly admin: AdminServer | null;
  /** Stop the admin listener and remove handlers (the drain itself is `drain.start`). */
  close(): Promise<void>;
}

export async function startOperations(options: OperationsOptions): Promise<Operations> {
  const { config, holder, source, logger } = options;
  const metrics = options.metrics ?? processMetrics;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  metrics.setIdc(config.idc);

  const drain = new DrainController({
    delayMs: config.drain.delayMs,
    timeoutMs: config.drain.timeoutMs,
    logger,
    metrics,
  });
  for (const p of options.participants) drain.register(p);

  // An applied or refused map is counted and logged by the event subscribers (src/core/events.ts).
  let worker: WorkerAgent | null = null;
  const onChange = (next: CompiledZoneMap): void => {
    worker?.reportMap(next);
  };
  holder.on('change', onChange);
  // The first map: version and time only — how long the start took is not an apply latency.
  metrics.zonemapVersion.set(holder.current.version);
  metrics.zonemapLastApplyTimestamp.set(Date.now() / 1000);

  let admin: AdminServer | null = null;
  let removeSignals = (): void => undefined;
  // SIGHUP / POST /reload: the admin listener's own certificates, then the runtime's.
  const reload = async (): Promise<ReloadReport> => {
    const adminTls = (await admin?.reloadTls()) === true;
    const report = await options.reload();
    return adminTls ? { reloaded: ['admin-tls', ...report.reloaded] } : report;
  };
  if (isClusterWorker()) {
    worker = attachWorker({
      drain,
      registry: metrics.registry,
      reload,
      exit,
      logger,
      onAdminUrl: (url) => source?.advertiseAdmin?.(url),
    });
    worker.reportMap(holder.current);
  } else {
    if (config.admin.enabled) {
      admin = await startAdminServer({
        host: config.admin.host,
        port: config.admin.port,
        tokenFile: config.admin.tokenFile ?? null,
        tls: config.admin.tls ?? null,
        logger,
        collectMetrics: async () => ({
          contentType: metrics.registry.contentType,
          body: await metrics.registry.metrics(),
        }),
        target: {
          getMap: () => holder.current,
          isDraining: () => drain.draining,
          startDrain: (reason) => {
            drain.start(reason).then(
              (outcome) => exit(outcome === 'clean' ? 0 : 1),
              () => exit(1),
            );
          },
          reload,
        },
      });
      logger.info({ url: admin.url }, 'admin listener up');
      source?.advertiseAdmin?.(admin.url);
    }
    if (options.handleSignals !== false) {
      removeSignals = installSignalHandlers({ drain, reload, exit, logger });
    }
  }

  return {
    drain,
    admin,
    async close() {
      removeSignals();
      worker?.detach();
      holder.off('change', onChange);
      await admin?.close();
    },
  };
}

/* ------------------------------------------------------------------------------------------
 * The whole process: `zonegate start` calls this once.
 * ---------------------------------------------------------------------------------------- */

export interface GatewayProcessOptions {
  readonly config: GatewayConfig;
  /** `--workers`; default `config.workers.count` (1: in-process, 0: one per core). */
  readonly workers?: number;
  readonly logger?: Logger;
  /** Where access lines go; default the logger's own destination (`zonegate start`: logDestination(2), buffered). */
  readonly accessLog?: LineSink;
  readonly metrics?: Metrics;
  /** Default true; an embedding test turns it off and drains through `operations.drain`. */
  readonly handleSignals?: boolean;
  readonly exit?: (code: number) => void;
}

export type GatewayProcess =
  | { readonly role: 'primary'; readonly primary: ClusterPrimary }
  | { readonly role: 'single' | 'worker'; readonly gateway: Gateway; readonly operations: Operations };

/**
 * The drain's steps for the whole runtime:
 * - stop accepting: every HTTP and MQTT listener closes its port (open connections stay);
 *   the MQTT stage's drain hook then tells each client to reconnect elsewhere at a random
 *   moment within `mqttWindowMs`, paced by its movesPerSecond (issue 5), so the other
 *   gateways take them over gradually instead of all at once;
 * - finish: wait for the MQTT clients to leave (or the window to pass), then the runtime's own
 *   graceful close — `connection: close` on busy keep-alive connections, GOAWAY, MQTT 5 0x8B
 *   to whoever is left;
 * - cut: destroy what is still open at the deadline.
 */
export function gatewayDrainParticipant(gateway: Gateway, mqttWindowMs: number): DrainParticipant {
  let windowEnds = 0;
  return {
    name: 'gateway',
    stopAccepting: () => {
      // stopAccepting() resolves only when the last connection is gone; close() awaits that.
      for (const l of [...gateway.listeners, ...gateway.mqtt.listeners]) void l.stopAccepting();
      windowEnds = Date.now() + mqttWindowMs;
      gateway.mqtt.server.drain(mqttWindowMs);
    },
    finish: async (deadline) => {
      const until = Math.min(windowEnds, deadline);
      while (gateway.mqtt.server.connectionCount > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await gateway.close();
      // Requests still running at the grace deadline were cut: that is no clean drain.
      const cut = gateway.http.cutAtClose;
      if (cut > 0) throw new Error(`${cut} HTTP request(s) still running at the shutdown deadline were cut`);
    },
    forceClose: () => {
      for (const l of [...gateway.listeners, ...gateway.mqtt.listeners]) l.destroyConnections();
    },
  };
}

export async function runGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logging);
  const metrics = options.metrics ?? processMetrics;
  const workers = resolveWorkerCount(options.workers ?? config.workers.count);

  if (workers > 1 && !isClusterWorker()) {
    metrics.setIdc(config.idc);
    const primary = await runPrimary({
      count: workers,
      restartDelayMs: config.workers.restartDelayMs,
      drain: config.drain,
      admin: config.admin.enabled
        ? {
            host: config.admin.host,
            port: config.admin.port,
            tokenFile: config.admin.tokenFile ?? null,
            tls: config.admin.tls ?? null,
          }
        : null,
      logger,
      metrics,
      handleSignals: options.handleSignals !== false,
      ...(options.exit === undefined ? {} : { exit: options.exit }),
    });
    logger.info({ workers, admin: primary.admin?.url }, 'primary up');
    return { role: 'primary', primary };
  }

  // The event bus and its two subscribers: metrics, and logs (general and access).
  const events = new EventBus();
  const accessLog = createAccessLog(options.accessLog ?? loggerSink(logger), config.logging.accessSampleRate);
  const offMetrics = subscribeMetrics(events, metrics, { listeners: config.listeners });
  const offLog = subscribeLog(events, logger, accessLog);
  const source = createZoneMapSource(config.zonemap, { idc: config.idc });
  const gateway = await startGateway({ config, source, events, log: logger, metrics });
  for (const l of gateway.listeners) {
    metrics.trackConnections(l.config.protocol, () => l.connectionCount());
    metrics.trackCertificate(l.name, () => l.certificateNotAfterMs());
  }
  const operations = await startOperations({
    config,
    holder: gateway.holder,
    source,
    // Half the drain budget for paced MQTT moves; the rest for HTTP and stragglers.
    participants: [gatewayDrainParticipant(gateway, Math.floor(config.drain.timeoutMs / 2))],
    reload: async () => {
      await gateway.reload();
      return { reloaded: ['certificates'] };
    },
    logger,
    metrics,
    ...(options.handleSignals === undefined ? {} : { handleSignals: options.handleSignals }),
    // The drain is over: write the buffered access lines before the process may exit.
    exit: (code) => {
      offMetrics();
      offLog();
      void accessLog.flush().then(() => (options.exit ?? ((c: number) => process.exit(c)))(code));
    },
  });
  logger.info({ listeners: gateway.urls(), admin: operations.admin?.url }, 'gateway up');
  return { role: isClusterWorker() ? 'worker' : 'single', gateway, operations };
}
