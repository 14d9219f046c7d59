/**
 * `zonegate lab`: a whole fleet on this machine, users on it, and a drill plan run against
 * it; reports what the users felt. Bounded: user counts and the run time are capped, and
 * everything started is stopped on the way out (Ctrl-C included).
 */
import { waitForConvergence } from '../drill/convergence.js';
import { runDrill, type DrillEvent, type DrillPlan, type DrillReport } from '../drill/plan/index.js';
import type { ZoneMapDoc } from '../zonemap/index.js';
import { sleep } from '../drill/plan/sleep.js';
import { startFleet } from './fleet.js';
import { MapTracker, Traffic, type HttpFigures } from './traffic.js';

export interface LabOptions {
  readonly map: ZoneMapDoc;
  readonly plan: DrillPlan;
  readonly gatewaysPerIdc: number;
  readonly httpUsers: number;
  readonly anonymousUsers: number;
  readonly mqttUsers: number;
  readonly thinkMs: number;
  readonly publishMs: number;
  readonly interIdcDelayMs: number;
  /** Load before the plan starts, and after it ends. */
  readonly warmupMs: number;
  readonly settleMs: number;
  /** Hard cap on the drill; past it the run aborts (and rolls back). */
  readonly maxDrillMs: number;
  /** Node arguments that run `zonegate` (before `start -c FILE`). */
  readonly zonegate: readonly string[];
  readonly log: (line: string) => void;
  readonly onEvent?: (e: DrillEvent) => void;
  readonly signal?: AbortSignal;
}

/** Caps that keep a lab on a shared machine reasonable. */
export const LAB_LIMITS = { maxUsers: 5000, maxGatewaysPerIdc: 4, maxDrillMs: 15 * 60_000 } as const;

export interface MqttFigures {
  readonly clients: number;
  readonly acked: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Connections dropped (a transparent move keeps the connection). */
  readonly disconnects: number;
  /** Sessions moved between zones' brokers, from the gateways' metrics (ok / failed). */
  readonly movedOk: number;
  readonly movedFailed: number;
}

export interface LabResult {
  readonly gateways: number;
  readonly zones: number;
  readonly http: HttpFigures;
  readonly mqtt: MqttFigures;
  /** Per map write of the drill: version, RTO (null: some user never recovered). */
  readonly writes: readonly {
    readonly version: number;
    readonly rtoMs: number | null;
    readonly convergeMs: number | null;
  }[];
  readonly rtoMs: number | null;
  readonly report: DrillReport;
}

export async function runLab(o: LabOptions): Promise<LabResult> {
  const users = o.httpUsers + o.anonymousUsers + o.mqttUsers;
  if (users > LAB_LIMITS.maxUsers)
    throw new RangeError(`at most ${LAB_LIMITS.maxUsers} users (asked for ${users})`);
  if (o.gatewaysPerIdc < 1 || o.gatewaysPerIdc > LAB_LIMITS.maxGatewaysPerIdc)
    throw new RangeError(`gateways per IDC: 1 to ${LAB_LIMITS.maxGatewaysPerIdc}`);
  const fleet = await startFleet({
    map: o.map,
    gatewaysPerIdc: o.gatewaysPerIdc,
    interIdcDelayMs: o.interIdcDelayMs,
    zonegate: o.zonegate,
    log: o.log,
  });
  const tracker = new MapTracker(fleet.store, 5000);
  const traffic = new Traffic({
    gateways: fleet.gateways,
    httpUsers: o.httpUsers,
    anonymousUsers: o.anonymousUsers,
    mqttUsers: o.mqttUsers,
    thinkMs: o.thinkMs,
    publishMs: o.publishMs,
    tracker,
  });
  try {
    // Every gateway up, on the first map, with its admin URL reported (the drill reads metrics there).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = await waitForConvergence(fleet.store, { version: 1, timeoutMs: 0, staleMs: 5000 });
      if (
        c.converged &&
        c.rows.length === fleet.gateways.length &&
        c.rows.every((r) => r.report.admin !== undefined)
      )
        break;
      if (Date.now() > deadline)
        throw new Error(`the lab's gateways did not all report: ${c.problems.join('; ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await tracker.start();
    await traffic.start();
    o.log(
      `users: ${o.httpUsers} with cookies, ${o.anonymousUsers} anonymous, ${o.mqttUsers} MQTT QoS 1; warming up ${o.warmupMs} ms`,
    );
    // Ctrl-C during the warm-up cuts it short; the drill then stops before its first step.
    await sleep(o.warmupMs, o.signal).catch(() => undefined);
    const cap = AbortSignal.timeout(Math.min(o.maxDrillMs, LAB_LIMITS.maxDrillMs));
    const report = await runDrill({
      plan: o.plan,
      store: fleet.store,
      dryRun: false,
      yes: true,
      rollback: true,
      emit: o.onEvent ?? (() => undefined),
      confirm: null,
      signal: o.signal === undefined ? cap : AbortSignal.any([cap, o.signal]),
    });
    await new Promise((r) => setTimeout(r, o.settleMs));
    await traffic.stop();
    await traffic.settleMqtt(10_000);
    // Answers are judged against every write the tracker knows of: let it see the last ones.
    await tracker.finish();
    const end = Date.now();
    const eras = tracker.eras;
    const writes = eras.slice(1).map((e, i) => ({
      version: e.version,
      rtoMs: traffic.rtoMs(e.writtenAt, eras[i + 2]?.writtenAt ?? end),
      convergeMs: e.convergedAt === null ? null : e.convergedAt - e.writtenAt,
    }));
    const rtos = writes.map((w) => w.rtoMs);
    const m = traffic.mqtt.map((u) => u.stats());
    const during = report.figures.during;
    return {
      gateways: fleet.gateways.length,
      zones: Object.keys(fleet.doc.zones).length,
      http: traffic.http(),
      mqtt: {
        clients: m.length,
        acked: m.reduce((n, s) => n + s.acked, 0),
        lost: m.reduce((n, s) => n + s.lost, 0),
        duplicated: m.reduce((n, s) => n + s.duplicated, 0),
        disconnects: m.reduce((n, s) => n + s.disconnects, 0),
        movedOk: during?.mqttMovesOk ?? 0,
        movedFailed: during?.mqttMovesFailed ?? 0,
      },
      writes,
      rtoMs: rtos.includes(null) ? null : Math.max(0, ...(rtos as number[])),
      report,
    };
  } finally {
    tracker.stop();
    await traffic.stop().catch(() => undefined);
    await fleet.close();
  }
}

/** The lab's result as lines for a terminal or a README. */
export function formatLabResult(r: LabResult): string[] {
  const rto = (ms: number | null): string => (ms === null ? 'not recovered' : `${(ms / 1000).toFixed(2)} s`);
  return [
    `drill ${r.report.drill}: ${r.report.result} (${(r.report.durationMs / 1000).toFixed(1)} s, map ${r.report.versionBefore} -> ${r.report.versionAfter})`,
    `fleet: ${r.gateways} gateways, ${r.zones} zones`,
    `HTTP: ${r.http.users} users (${r.http.anonymous} anonymous), ${r.http.requests} requests, ${r.http.failed} failed` +
      `${
        r.http.failed === 0
          ? ''
          : ` (${Object.entries(r.http.failedBy)
              .map(([k, n]) => `${k}: ${n}`)
              .join(', ')})`
      }, ${r.http.wrongZone} answered by a wrong zone`,
    `MQTT: ${r.mqtt.clients} clients, ${r.mqtt.acked} QoS 1 messages acknowledged, ${r.mqtt.lost} lost, ${r.mqtt.duplicated} duplicated, ` +
      `${r.mqtt.movedOk} sessions moved (${r.mqtt.movedFailed} failed), ${r.mqtt.disconnects} connections dropped`,
    ...r.writes.map(
      (w) =>
        `write v${w.version}: every gateway on it after ${w.convergeMs === null ? '-' : `${w.convergeMs} ms`}, RTO ${rto(w.rtoMs)}`,
    ),
    `RTO (worst write): ${rto(r.rtoMs)}`,
    ...r.http.failures.slice(0, 5).map((f) => `  e.g. ${f}`),
  ];
}
