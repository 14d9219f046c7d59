/**
 * `zonegate start --workers N`: one process per core with node:cluster (docs/design.md
 * "Process shape").
 *
 * Roles:
 * - The primary serves no traffic. It forks the workers and replaces any that die, sums the
 *   workers' metrics on scrape, and coordinates drain and reload; the process around it
 *   (./process.ts) serves those through the admin listener (one port per pod, so LVS and
 *   Prometheus see one gateway).
 * - Each worker is a whole gateway (its listeners bind their own SO_REUSEPORT sockets on Linux,
 *   src/listeners/listener.ts; elsewhere the cluster module shares the primary's) and
 *   runs its own zone map source, so a map update reaches every worker as fast as it reaches a
 *   single-process gateway, with no relay hop that could lag or die. Workers tell the primary
 *   which map they route by; /readyz and /zonemap show the oldest one still in use.
 *
 * Trade-off against one process per pod (the chart's default): fewer pods and fewer zone map
 * subscriptions, but one pod failure takes N workers' connections, and the CPU request must
 * cover N cores.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { MetricsExposition, ReloadReport, ZoneMapView } from '../admin/admin-server.js';
import {
  aggregateMetrics,
  RetiredMetrics,
  snapshotMetrics,
  type MetricsSnapshot,
} from '../admin/cluster-metrics.js';
import { MetricsCollectError, ReloadFailedError } from '../admin/errors.js';
import { ShuttingDownError } from '../core/errors.js';
import { metrics as processMetrics, type Metrics } from '../admin/metrics.js';
import { DrainController, type DrainOutcome, type DrainParticipant } from './drain.js';

/* ------------------------------------------------------------------------------------------
 * IPC messages. Every message carries a `zonegate:` type so prom-client's or anyone else's
 * messages on the same channel are left alone.
 * ---------------------------------------------------------------------------------------- */

type ToWorker =
  | { readonly type: 'zonegate:metrics-req'; readonly id: number }
  | { readonly type: 'zonegate:reload-req'; readonly id: number }
  | { readonly type: 'zonegate:drain' }
  | { readonly type: 'zonegate:admin'; readonly url: string };

type ToPrimary =
  | { readonly type: 'zonegate:metrics-res'; readonly id: number; readonly metrics: MetricsSnapshot }
  | {
      readonly type: 'zonegate:reload-res';
      readonly id: number;
      readonly report?: ReloadReport;
      readonly error?: string;
    }
  | { readonly type: 'zonegate:map'; readonly map: ZoneMapView };

function isMessage<T extends { type: string }>(m: unknown): m is T {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { type?: unknown }).type === 'string' &&
    (m as { type: string }).type.startsWith('zonegate:')
  );
}

/** `--workers 0` means one per core. */
export function resolveWorkerCount(requested: number): number {
  if (!Number.isInteger(requested) || requested < 0)
    throw new RangeError(`invalid workers ${String(requested)}`);
  return requested === 0 ? availableParallelism() : requested;
}

/** True when this process is a worker forked by runPrimary (it must not start an admin listener). */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/* ------------------------------------------------------------------------------------------
 * Primary
 * ---------------------------------------------------------------------------------------- */

export interface PrimaryOptions {
  readonly count: number;
  readonly restartDelayMs: number;
  readonly drain: { readonly delayMs: number; readonly timeoutMs: number };
  readonly logger?: Logger;
  /** The primary's own registry (process metrics, draining flag); summed with the workers'. */
  readonly metrics?: Metrics;
  /** Worker entry point and arguments; default: this script with the same arguments. */
  readonly exec?: string;
  readonly args?: readonly string[];
  readonly execArgv?: readonly string[];
  /** Bound on one IPC round trip (metrics scrape, reload). */
  readonly ipcTimeoutMs?: number;
}

export interface ClusterPrimary {
  readonly drain: DrainController;
  /** Ids of the workers alive now. */
  workerIds(): number[];
  /** Resolves once `count` workers are online and each has reported a zone map. */
  ready(): Promise<void>;
  collectMetrics(): Promise<MetricsExposition>;
  reload(): Promise<ReloadReport>;
  getMap(): ZoneMapView | null;
  /** The admin listener's URL, told to every worker (they advertise it in their gateway report). */
  advertiseAdmin(url: string): void;
  /** Drain the workers (no delay; a drain already under way is joined) and stop listening to them. */
  close(): Promise<DrainOutcome>;
}

interface Pending {
  readonly resolve: (m: ToPrimary) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export function runPrimary(options: PrimaryOptions): ClusterPrimary {
  if (!cluster.isPrimary) throw new Error('runPrimary called in a cluster worker');
  const count = resolveWorkerCount(options.count);
  const log = options.logger;
  const metrics = options.metrics ?? processMetrics;
  const ipcTimeoutMs = options.ipcTimeoutMs ?? 5000;
  const maps = new Map<number, ZoneMapView>();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let stopping = false;
  const readyWaiters: (() => void)[] = [];

  cluster.setupPrimary({
    ...(options.exec === undefined ? {} : { exec: options.exec }),
    ...(options.args === undefined ? {} : { args: [...options.args] }),
    ...(options.execArgv === undefined ? {} : { execArgv: [...options.execArgv] }),
  });

  const alive = (): Worker[] =>
    Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  const getMap = (): ZoneMapView | null => {
    const workers = alive();
    if (workers.length < count) return null;
    let oldest: ZoneMapView | null = null;
    for (const w of workers) {
      const m = maps.get(w.id);
      if (m === undefined) return null;
      if (oldest === null || m.version < oldest.version) oldest = m;
    }
    return oldest;
  };
  const checkReady = (): void => {
    if (getMap() === null) return;
    for (const wake of readyWaiters.splice(0)) wake();
  };

  // The admin listener is the primary's: each worker advertises its URL in its gateway report
  // (drills read metrics there), told once the listener is bound and the worker is up.
  let adminUrl: string | null = null;
  const toldAdmin = new Set<number>();
  const tellAdmin = (worker: Worker): void => {
    if (adminUrl === null || toldAdmin.has(worker.id) || !worker.isConnected()) return;
    toldAdmin.add(worker.id);
    worker.send({ type: 'zonegate:admin', url: adminUrl } satisfies ToWorker);
  };

  const onMessage = (worker: Worker, raw: unknown): void => {
    if (!isMessage<ToPrimary>(raw)) return;
    if (raw.type === 'zonegate:map') {
      tellAdmin(worker);
      maps.set(worker.id, raw.map);
      checkReady();
      return;
    }
    const p = pending.get(raw.id);
    if (p === undefined) return;
    pending.delete(raw.id);
    clearTimeout(p.timer);
    p.resolve(raw);
  };

  const request = (worker: Worker, make: (id: number) => ToWorker): Promise<ToPrimary> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`worker ${worker.id} did not answer within ${ipcTimeoutMs} ms`));
      }, ipcTimeoutMs);
      pending.set(id, { resolve, reject, timer });
      worker.send(make(id), (err: Error | null) => {
        if (err === null) return;
        clearTimeout(timer);
        pending.delete(id);
        reject(err);
      });
    });

  const fork = (): void => {
    const w = cluster.fork({ ZONEGATE_WORKER: '1' });
    // A dying worker's channel errors (EPIPE) must not take the primary down.
    w.on('error', (err) => log?.warn({ err, worker: w.id }, 'worker channel error'));
  };

  const retired = new RetiredMetrics();
  const onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    maps.delete(worker.id);
    toldAdmin.delete(worker.id);
    retired.retire(worker.id).catch((err: unknown) => log?.warn({ err }, 'could not carry over metrics'));
    if (stopping) return;
    // An unexpected death: replace it after a pause, so a crash loop cannot eat the CPU.
    log?.error({ worker: worker.id, code, signal }, 'worker died; replacing it');
    setTimeout(() => {
      if (!stopping) fork();
    }, options.restartDelayMs);
  };

  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  for (let i = 0; i < count; i++) fork();

  const collectMetrics = async (): Promise<MetricsExposition> => {
    try {
      const workers = alive();
      const replies = await Promise.all(
        workers.map((w) => request(w, (id) => ({ type: 'zonegate:metrics-req', id }))),
      );
      const snapshots: MetricsSnapshot[] = [await snapshotMetrics(metrics.registry)];
      replies.forEach((r, i) => {
        if (r.type !== 'zonegate:metrics-res') return;
        snapshots.push(r.metrics);
        const w = workers[i];
        if (w !== undefined) retired.remember(w.id, r.metrics);
      });
      if (retired.carried !== null) snapshots.push(retired.carried);
      return await aggregateMetrics(snapshots);
    } catch (err) {
      throw new MetricsCollectError('could not collect metrics from every worker', err);
    }
  };

  const reload = async (): Promise<ReloadReport> => {
    const replies = await Promise.all(
      alive().map((w) => request(w, (id) => ({ type: 'zonegate:reload-req', id })).catch((e: unknown) => e)),
    );
    const failures: string[] = [];
    const reloaded = new Set<string>();
    for (const r of replies) {
      if (r instanceof Error) failures.push(r.message);
      else if (isMessage<ToPrimary>(r) && r.type === 'zonegate:reload-res') {
        if (r.error !== undefined) failures.push(r.error);
        for (const what of r.report?.reloaded ?? []) reloaded.add(what);
      }
    }
    if (failures.length > 0) throw new ReloadFailedError(failures.join('; '));
    return { reloaded: [...reloaded] };
  };

  const workersParticipant: DrainParticipant = {
    name: 'workers',
    stopAccepting() {
      stopping = true;
      for (const w of alive()) w.send({ type: 'zonegate:drain' } satisfies ToWorker);
    },
    finish(deadline) {
      // Woken by the workers' own exits, bounded by the deadline.
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!alive().every((w) => w.isDead())) return;
          done();
          resolve();
        };
        const timer = setTimeout(
          () => {
            done();
            reject(new Error('workers still running at the deadline'));
          },
          Math.max(0, deadline - Date.now()),
        );
        const done = (): void => {
          clearTimeout(timer);
          cluster.off('exit', check);
          cluster.off('disconnect', check);
        };
        cluster.on('exit', check);
        cluster.on('disconnect', check);
        check();
      });
    },
    forceClose() {
      for (const w of alive()) w.process.kill('SIGKILL');
    },
  };
  // The workers bound their own drain by timeoutMs; the primary allows a little more so the
  // workers finish on their own terms before it has to kill them.
  const drain = new DrainController({
    delayMs: options.drain.delayMs,
    timeoutMs: options.drain.timeoutMs + 2000,
    metrics,
    ...(log === undefined ? {} : { logger: log }),
  });
  drain.register(workersParticipant);

  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    cluster.off('message', onMessage);
    cluster.off('exit', onExit);
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ShuttingDownError());
    }
    pending.clear();
  };

  return {
    drain,
    workerIds: () => alive().map((w) => w.id),
    ready: () =>
      new Promise<void>((resolve) => {
        readyWaiters.push(resolve);
        checkReady();
      }),
    collectMetrics,
    reload,
    getMap,
    advertiseAdmin(url) {
      adminUrl = url;
      for (const w of alive()) if (maps.has(w.id)) tellAdmin(w);
    },
    close: async () => {
      const outcome = await drain.start('close', 0);
      finish();
      return outcome;
    },
  };
}

/* ------------------------------------------------------------------------------------------
 * Worker
 * ---------------------------------------------------------------------------------------- */

export interface WorkerAgentOptions {
  readonly drain: DrainController;
  readonly registry: Registry;
  readonly reload: () => Promise<ReloadReport>;
  /** Called when the worker's drain ends; default `process.exit`. */
  readonly exit?: (code: number) => void;
  readonly logger?: Logger;
  /** The primary's admin listener URL, once it is bound. */
  readonly onAdminUrl?: (url: string) => void;
}

export interface WorkerAgent {
  /** Tell the primary which zone map this worker routes by (call on start and on every swap). */
  reportMap(map: ZoneMapView): void;
  detach(): void;
}

/**
 * Wires a worker's gateway to the primary: answers metrics and reload requests, drains when
 * told to (no delay: the primary has already failed /healthz and waited), and drains too
 * if the primary disappears, so no worker outlives it.
 */
export function attachWorker(options: WorkerAgentOptions): WorkerAgent {
  if (!cluster.isWorker || process.send === undefined)
    throw new Error('attachWorker called outside a cluster worker');
  const send = process.send.bind(process);
  const { drain, registry, logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const stop = (reason: string): void => {
    drain.start(reason, 0).then(
      (outcome) => exit(outcome === 'clean' ? 0 : 1),
      (err: unknown) => {
        logger?.error({ err }, 'worker drain failed');
        exit(1);
      },
    );
  };
  const reply = (m: ToPrimary): void => {
    if (process.connected) send(m);
  };
  const onMessage = (raw: unknown): void => {
    if (!isMessage<ToWorker>(raw)) return;
    switch (raw.type) {
      case 'zonegate:metrics-req':
        snapshotMetrics(registry).then(
          (metrics) => reply({ type: 'zonegate:metrics-res', id: raw.id, metrics }),
          (err: unknown) => logger?.error({ err }, 'metrics snapshot failed'),
        );
        return;
      case 'zonegate:reload-req':
        options.reload().then(
          (report) => reply({ type: 'zonegate:reload-res', id: raw.id, report }),
          (err: unknown) =>
            reply({
              type: 'zonegate:reload-res',
              id: raw.id,
              error: err instanceof Error ? err.message : String(err),
            }),
        );
        return;
      case 'zonegate:drain':
        stop('primary');
        return;
      case 'zonegate:admin':
        options.onAdminUrl?.(raw.url);
        return;
    }
  };
  const onDisconnect = (): void => stop('primary-gone');
  // A terminal's Ctrl-C reaches the whole process group; the primary coordinates the drain.
  const onInterrupt = (): void => undefined;
  const onTerm = (): void => stop('SIGTERM');
  process.on('message', onMessage);
  process.on('disconnect', onDisconnect);
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerm);
  return {
    reportMap(map) {
      // Only what /zonemap shows; the compiled tables stay in the worker.
      reply({ type: 'zonegate:map', map: { version: map.version, doc: map.doc } });
    },
    detach() {
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onTerm);
    },
  };
}
