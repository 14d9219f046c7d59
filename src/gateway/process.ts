/**
 * The composition root of a gateway process: what `zonegate start` runs, in a single process,
 * in the cluster primary (`--workers N`) and in each of its workers.
 *
 *   config → observation (metrics, logs) → zone map source → stages (./gateway.ts)
 *          → drain controller → admin listener / link to the primary → signals
 *
 * Everything is built here and nowhere else, and every part that holds a handle pushes its
 * undo onto one list (./undo.ts): a start that fails half way and the final close unwind the
 * same list, newest first. The admin listener is started by one function for both roles that
 * have one (single process, primary); src/admin/ is handed what it serves and knows nothing
 * of this file.
 */
import type { Logger } from 'pino';
import {
  startAdminServer,
  type AdminServer,
  type ReloadReport,
  type ZoneMapView,
} from '../admin/admin-server.js';
import { subscribeMetrics } from '../admin/http-metrics.js';
import { metrics as processMetrics, type Metrics } from '../admin/metrics.js';
import type { AdminConfig, GatewayConfig } from '../core/config.js';
import { EventBus } from '../core/events.js';
import { createAccessLog, createLogger, loggerSink, subscribeLog, type LineSink } from '../core/logger.js';
import { settledWithin } from '../core/timeout.js';
import { createZoneMapSource } from '../zonemap/stores/index.js';
import type { CompiledZoneMap } from '../zonemap/index.js';
import { DrainController, installSignalHandlers, type DrainParticipant } from './drain.js';
import { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
import { UndoList } from './undo.js';
import {
  attachWorker,
  isClusterWorker,
  resolveWorkerCount,
  runPrimary,
  type ClusterPrimary,
} from './workers.js';

export interface GatewayProcessOptions {
  readonly config: GatewayConfig;
  /** `--workers`; default `config.workers.count` (1: in-process, 0: one per core). */
  readonly workers?: number;
  readonly logger?: Logger;
  /** Where access lines go; default the logger's own destination (`zonegate start`: stderr, buffered). */
  readonly accessLog?: LineSink;
  /** Default: this process's registry (src/admin/metrics.ts). */
  readonly metrics?: Metrics;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (default true; an embedding test turns it off and drains through `drain`). */
  readonly handleSignals?: boolean;
  /** Called once a drain is over and the process is torn down; default `process.exit`. */
  readonly exit?: (code: number) => void;
}

interface ProcessParts {
  readonly drain: DrainController;
  /** null in a cluster worker (the primary has it) or when `admin.enabled` is false. */
  readonly admin: AdminServer | null;
  /** Tear down everything this process built, without a drain (tests, the demo). */
  close(): Promise<void>;
}

export type GatewayProcess =
  | (ProcessParts & { readonly role: 'primary'; readonly primary: ClusterPrimary })
  | (ProcessParts & { readonly role: 'single' | 'worker'; readonly gateway: Gateway });

/** How long the teardown after a finished drain may take before the process exits anyway. */
const EXIT_TEARDOWN_MS = 2000;

export async function runGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logging);
  const metrics = options.metrics ?? processMetrics;
  const workers = resolveWorkerCount(options.workers ?? config.workers.count);
  const undo = new UndoList();
  const close = (): Promise<void> =>
    undo.unwind((err: unknown) => logger.warn({ err }, 'teardown step failed'));
  // After a drain: tear down, then exit, even if a step hangs past the bound.
  const exitWith = options.exit ?? ((code: number) => process.exit(code));
  const finishAndExit = (code: number): void => {
    void settledWithin(close(), EXIT_TEARDOWN_MS).then(() => exitWith(code));
  };
  const parts: ProcessContext = {
    config,
    logger,
    metrics,
    undo,
    close,
    finishAndExit,
    handleSignals: options.handleSignals !== false,
    accessSink: options.accessLog,
  };
  metrics.setIdc(config.idc);
  try {
    if (workers > 1 && !isClusterWorker()) return await buildPrimary(parts, workers);
    return await buildGateway(parts);
  } catch (err) {
    await close();
    throw err;
  }
}

interface ProcessContext {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly undo: UndoList;
  readonly close: () => Promise<void>;
  readonly finishAndExit: (code: number) => void;
  readonly handleSignals: boolean;
  readonly accessSink: LineSink | undefined;
}

/* ------------------------------------------------------------------------------------------
 * A process that serves: single, or a cluster worker.
 * ---------------------------------------------------------------------------------------- */

async function buildGateway(p: ProcessContext): Promise<GatewayProcess> {
  const { config, logger, metrics, undo } = p;
  const worker = isClusterWorker();

  const observe = connectObservation(p);
  const source = createZoneMapSource(config.zonemap, { idc: config.idc });
  // The stages push their own steps; once started they collapse into the gateway's graceful close.
  const stagesMark = undo.mark();
  const gateway = await startGateway({ config, source, ...observe, undo });
  undo.collapse(stagesMark, () => gateway.close());
  for (const l of gateway.listeners) {
    metrics.trackConnections(l.config.protocol, () => l.connectionCount());
    metrics.trackCertificate(l.name, () => l.certificateNotAfterMs());
  }

  const drain = new DrainController({
    delayMs: config.drain.delayMs,
    timeoutMs: config.drain.timeoutMs,
    logger,
    metrics,
  });
  // Half the drain budget for paced MQTT moves; the rest for HTTP and stragglers.
  drain.register(gatewayDrainParticipant(gateway, Math.floor(config.drain.timeoutMs / 2)));

  // The first map's version; the event subscribers count later ones (how long the start took is
  // not an apply latency).
  metrics.zonemapVersion.set(gateway.holder.current.version);
  metrics.zonemapLastApplyTimestamp.set(Date.now() / 1000);

  let admin: AdminServer | null = null;
  // SIGHUP / POST /reload: the admin listener's own certificates, then the stages'.
  const reload = async (): Promise<ReloadReport> => {
    const adminTls = (await admin?.reloadTls()) === true;
    await gateway.reload();
    return { reloaded: adminTls ? ['admin-tls', 'certificates'] : ['certificates'] };
  };

  if (worker) {
    // The primary runs the admin listener and the signals; the worker answers it.
    const agent = attachWorker({
      drain,
      registry: metrics.registry,
      reload,
      exit: p.finishAndExit,
      logger,
      onAdminUrl: (url) => source.advertiseAdmin?.(url),
    });
    // The primary learns which map this worker routes by: now, and at every change.
    const report = (map: CompiledZoneMap): void => agent.reportMap(map);
    gateway.holder.on('change', report);
    undo.push(() => {
      gateway.holder.off('change', report);
    });
    undo.push(() => agent.detach());
    report(gateway.holder.current);
  } else {
    admin = await serveAdmin(p, {
      getMap: () => gateway.holder.current,
      drain,
      reload,
      collectMetrics: async () => ({
        contentType: metrics.registry.contentType,
        body: await metrics.registry.metrics(),
      }),
    });
    if (admin !== null) source.advertiseAdmin?.(admin.url);
    handleSignals(p, drain, reload);
  }

  logger.info({ listeners: gateway.urls(), admin: admin?.url }, 'gateway up');
  return { role: worker ? 'worker' : 'single', gateway, drain, admin, close: p.close };
}

/**
 * The one place where the stages are connected to metrics and logs: every stage publishes on
 * one event bus (src/core/events.ts); one subscriber feeds the metrics, one the logger (the
 * general log and the access log). Pushed before the stages, so it is unwound after them: the
 * last access lines of a drain are written before the process exits.
 */
function connectObservation(p: ProcessContext): StageObservation {
  const { config, logger, metrics, undo } = p;
  const events = new EventBus();
  const accessLog = createAccessLog(p.accessSink ?? loggerSink(logger), config.logging.accessSampleRate);
  const offMetrics = subscribeMetrics(events, metrics, { listeners: config.listeners });
  const offLog = subscribeLog(events, logger, accessLog);
  undo.push(async () => {
    offMetrics();
    offLog();
    await accessLog.flush();
  });
  return { events, log: logger, metrics };
}

type StageObservation = Required<Pick<GatewayOptions, 'events' | 'log' | 'metrics'>>;

/* ------------------------------------------------------------------------------------------
 * The cluster primary: forks the workers, serves admin for all of them.
 * ---------------------------------------------------------------------------------------- */

async function buildPrimary(p: ProcessContext, count: number): Promise<GatewayProcess> {
  const { config, logger, metrics, undo } = p;
  const primary = runPrimary({
    count,
    restartDelayMs: config.workers.restartDelayMs,
    drain: config.drain,
    logger,
    metrics,
  });
  undo.push(async () => {
    await primary.close();
  });
  let admin: AdminServer | null = null;
  const reload = async (): Promise<ReloadReport> => {
    const adminTls = (await admin?.reloadTls()) === true;
    const report = await primary.reload();
    return adminTls ? { reloaded: ['admin-tls', ...report.reloaded] } : report;
  };
  admin = await serveAdmin(p, {
    getMap: () => primary.getMap(),
    drain: primary.drain,
    reload,
    collectMetrics: () => primary.collectMetrics(),
  });
  if (admin !== null) primary.advertiseAdmin(admin.url);
  handleSignals(p, primary.drain, reload);
  logger.info({ workers: count, admin: admin?.url }, 'primary up');
  return { role: 'primary', primary, drain: primary.drain, admin, close: p.close };
}

/* ------------------------------------------------------------------------------------------
 * Shared by both roles that face the operator.
 * ---------------------------------------------------------------------------------------- */

interface AdminParts {
  readonly getMap: () => ZoneMapView | null;
  readonly drain: DrainController;
  readonly reload: () => Promise<ReloadReport>;
  readonly collectMetrics: () => Promise<{ readonly contentType: string; readonly body: string }>;
}

/** The admin listener, when the config enables it; POST /drain drains and exits like SIGTERM. */
async function serveAdmin(p: ProcessContext, parts: AdminParts): Promise<AdminServer | null> {
  const cfg: AdminConfig = p.config.admin;
  if (!cfg.enabled) return null;
  const { drain } = parts;
  const admin = await startAdminServer({
    host: cfg.host,
    port: cfg.port,
    tokenFile: cfg.tokenFile ?? null,
    tls: cfg.tls ?? null,
    logger: p.logger,
    collectMetrics: parts.collectMetrics,
    target: {
      getMap: parts.getMap,
      isDraining: () => drain.draining,
      startDrain: (reason) => {
        drain.start(reason).then(
          (outcome) => p.finishAndExit(outcome === 'clean' ? 0 : 1),
          () => p.finishAndExit(1),
        );
      },
      reload: parts.reload,
    },
  });
  p.undo.push(() => admin.close());
  p.logger.info({ url: admin.url }, 'admin listener up');
  return admin;
}

function handleSignals(p: ProcessContext, drain: DrainController, reload: () => Promise<ReloadReport>): void {
  if (!p.handleSignals) return;
  const remove = installSignalHandlers({ drain, reload, exit: p.finishAndExit, logger: p.logger });
  p.undo.push(remove);
}

/**
 * The drain's steps for the serving stages:
 * - stop accepting: every HTTP and MQTT listener closes its port (open connections stay);
 *   the MQTT stage's drain hook then tells each client to reconnect elsewhere at a random
 *   moment within `mqttWindowMs`, paced by its movesPerSecond, so the other gateways take
 *   them over gradually instead of all at once;
 * - finish: wait for the MQTT clients to leave (or the window to pass), then the stages' own
 *   graceful close — `connection: close` on busy keep-alive connections, GOAWAY, MQTT 5 0x8B
 *   to whoever is left;
 * - cut: destroy what is still open at the deadline.
 */
export function gatewayDrainParticipant(gateway: Gateway, mqttWindowMs: number): DrainParticipant {
  let windowEnds = 0;
  let mqttGone: Promise<unknown> = Promise.resolve();
  return {
    name: 'gateway',
    stopAccepting: () => {
      // stopAccepting() resolves only when the listener's last connection is gone: for the MQTT
      // listeners, once every client has moved on; close() awaits the HTTP ones.
      for (const l of gateway.listeners) void l.stopAccepting();
      mqttGone = Promise.all(gateway.mqtt.listeners.map((l) => l.stopAccepting()));
      windowEnds = Date.now() + mqttWindowMs;
      gateway.mqtt.server.drain(mqttWindowMs);
    },
    finish: async (deadline) => {
      // Until every MQTT client has moved, or the window is over, whichever comes first.
      const wait = Math.min(windowEnds, deadline) - Date.now();
      if (wait > 0) await settledWithin(mqttGone, wait);
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
