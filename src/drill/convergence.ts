import {
  gatewayReportState,
  type GatewayReport,
  type GatewayReportState,
  type ZoneMapStore,
} from '../zonemap/stores/index.js';
import { readCurrent } from './run-change.js';

/** Gateways refresh their report every few seconds (reportIntervalMs); silence longer than this means gone. */
export const DEFAULT_STALE_MS = 15_000;

export type GatewayState = GatewayReportState;

export interface GatewayRow {
  readonly report: GatewayReport;
  readonly ageMs: number;
  readonly state: GatewayState;
}

/** Each report against the version the fleet should run; a report older than staleMs is `stale`. */
export function classifyGateways(
  reports: readonly GatewayReport[],
  version: number | null,
  staleMs: number,
  now: number = Date.now(),
): GatewayRow[] {
  return reports.map((report) => ({ report, ...gatewayReportState(report, version, staleMs, now) }));
}

/** One look at the fleet: converged, or why not. */
export interface FleetView {
  /** The version every gateway must run (the store's, unless the caller named one). */
  readonly version: number | null;
  readonly rows: readonly GatewayRow[];
  readonly converged: boolean;
  /** Why not converged, in words; empty when converged. */
  readonly problems: readonly string[];
}

/**
 * Converged means: at least one gateway reports, none is stale, and every one runs
 * `version`. Zero reporters is a failure (a mistyped key prefix, or the whole fleet down,
 * must not pass as "all zero of them agree"); so is a stale reporter (a gateway that stopped
 * reporting may still serve with an old map).
 */
export function judgeFleet(version: number | null, rows: readonly GatewayRow[]): FleetView {
  const problems: string[] = [];
  if (rows.length === 0) problems.push('no gateway reports to this store');
  const stale = rows.filter((r) => r.state === 'stale');
  if (stale.length > 0)
    problems.push(
      `stale (no report for a while): ${stale.map((r) => `${r.report.id} (${(r.ageMs / 1000).toFixed(1)}s)`).join(', ')}`,
    );
  const lagging = rows.filter((r) => r.state === 'behind' || r.state === 'ahead');
  if (lagging.length > 0)
    problems.push(
      `not on version ${version ?? 'none'}: ${lagging.map((r) => `${r.report.id} (${r.report.version})`).join(', ')}`,
    );
  return { version, rows, converged: problems.length === 0, problems };
}

export interface ConvergeOptions {
  /** The version to wait for; default the store's current version, re-read on every look. */
  readonly version?: number;
  /** 0: look once. */
  readonly timeoutMs: number;
  readonly staleMs: number;
  readonly pollMs?: number;
  /** Forget stale reports first (crashed gateways never say goodbye); returns their ids. */
  readonly prune?: boolean;
  /** Called after every look that is not the last (progress output). */
  readonly onProgress?: (view: FleetView, elapsedMs: number) => void;
  readonly signal?: AbortSignal;
}

export interface Convergence extends FleetView {
  readonly elapsedMs: number;
  readonly pruned: readonly string[];
}

/**
 * Looks at the gateways' reports until they converge on the version or the timeout passes.
 * `map status --wait` and a drill plan's `converge` step both call this.
 */
export async function waitForConvergence(
  store: ZoneMapStore,
  options: ConvergeOptions,
): Promise<Convergence> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const pollMs = options.pollMs ?? 100;
  const pruned: string[] = [];
  for (;;) {
    const version = options.version ?? (await readCurrent(store)).version;
    let rows = classifyGateways(await store.gateways(), version, options.staleMs);
    if (options.prune === true) {
      for (const r of rows.filter((x) => x.state === 'stale')) {
        await store.forgetGateway(r.report.id);
        pruned.push(r.report.id);
      }
      rows = rows.filter((r) => r.state !== 'stale');
    }
    const view = judgeFleet(version, rows);
    const elapsedMs = Date.now() - started;
    if (view.converged || Date.now() >= deadline || options.signal?.aborted === true) {
      return { ...view, elapsedMs, pruned };
    }
    options.onProgress?.(view, elapsedMs);
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
}
