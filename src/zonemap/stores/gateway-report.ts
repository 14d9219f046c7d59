/** What each gateway writes into the gateways hash: which map version it routes by. */
export interface GatewayReport {
  readonly id: string;
  readonly idc: string;
  readonly version: number;
  /** ISO time this report was written; reports are refreshed periodically, so an old one means a dead gateway. */
  readonly at: string;
  /** ISO time this gateway switched to `version`. */
  readonly appliedAt: string;
  readonly host: string;
  readonly pid: number;
  /** `redis` when following the store, `snapshot` when started from the local file and not yet caught up. */
  readonly from: 'redis' | 'snapshot';
  /**
   * URL of this gateway's admin listener (in a cluster, the primary's), once bound: where a
   * drill reads the gateway's own metrics. Absent while it is not bound or when disabled.
   */
  readonly admin?: string;
}

/** How a report stands against the store's version: `stale` once silent for longer than staleMs. */
export type GatewayReportState = 'current' | 'behind' | 'ahead' | 'stale';

/**
 * Shared by `zonegate map status`, drill convergence and the console, so all three call the
 * same gateway stale.
 */
export function gatewayReportState(
  report: GatewayReport,
  version: number | null,
  staleMs: number,
  nowMs: number,
): { state: GatewayReportState; ageMs: number } {
  const ageMs = Math.max(0, nowMs - Date.parse(report.at));
  const state = !(ageMs <= staleMs) // NaN (an unparsable time) counts as stale too
    ? 'stale'
    : version === null || report.version === version
      ? 'current'
      : report.version < version
        ? 'behind'
        : 'ahead';
  return { state, ageMs };
}

export function parseGatewayReport(id: string, json: string): GatewayReport | null {
  try {
    const v = JSON.parse(json) as Partial<GatewayReport>;
    if (typeof v.version !== 'number' || typeof v.at !== 'string') return null;
    return {
      id,
      idc: typeof v.idc === 'string' ? v.idc : '',
      version: v.version,
      at: v.at,
      appliedAt: typeof v.appliedAt === 'string' ? v.appliedAt : v.at,
      host: typeof v.host === 'string' ? v.host : '',
      pid: typeof v.pid === 'number' ? v.pid : 0,
      from: v.from === 'snapshot' ? 'snapshot' : 'redis',
      ...(typeof v.admin === 'string' && v.admin !== '' ? { admin: v.admin } : {}),
    };
  } catch {
    return null;
  }
}
