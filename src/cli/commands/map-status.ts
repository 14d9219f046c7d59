import { UsageError } from '../../core/errors.js';
import { STORE_OPTIONS, STORE_USAGE, openStoreFrom } from '../../drill/cli-options.js';
import type { GatewayReport } from '../../zonemap/stores/index.js';
import { flag, optionalString } from '../args.js';
import type { CliIo, Command } from '../command.js';

/** Gateways refresh their report every few seconds (reportIntervalMs); silence longer than this means gone. */
const DEFAULT_STALE_MS = 15_000;

interface Row {
  readonly report: GatewayReport;
  readonly ageMs: number;
  readonly state: 'current' | 'behind' | 'ahead' | 'stale';
}

function classify(reports: readonly GatewayReport[], version: number | null, staleMs: number): Row[] {
  const now = Date.now();
  return reports.map((report) => {
    const ageMs = Math.max(0, now - Date.parse(report.at));
    const state =
      ageMs > staleMs
        ? 'stale'
        : version === null || report.version === version
          ? 'current'
          : report.version < version
            ? 'behind'
            : 'ahead';
    return { report, ageMs, state };
  });
}

function print(io: CliIo, version: number | null, rows: readonly Row[]): void {
  io.out(`store version: ${version ?? 'none'}`);
  io.out(['gateway', 'idc', 'version', 'state', 'from', 'applied at', 'last report'].join('\t'));
  for (const { report: r, ageMs, state } of rows) {
    const lag = state === 'behind' && version !== null ? ` (${version - r.version} behind)` : '';
    io.out(
      [
        r.id,
        r.idc,
        r.version,
        `${state}${lag}`,
        r.from,
        r.appliedAt,
        `${(ageMs / 1000).toFixed(1)}s ago`,
      ].join('\t'),
    );
  }
  const live = rows.filter((r) => r.state !== 'stale');
  const lagging = live.filter((r) => r.state !== 'current');
  io.out(
    `${live.length - lagging.length} of ${live.length} reporting gateways on version ${version ?? 'none'}` +
      (lagging.length === 0
        ? ''
        : `; lagging: ${lagging.map((r) => `${r.report.id} (${r.report.version})`).join(', ')}`) +
      (rows.length > live.length ? `; ${rows.length - live.length} stale` : ''),
  );
}

export const mapStatus: Command = {
  name: 'map status',
  summary: 'Show which zone map version every gateway runs, and which ones lag.',
  usage:
    `zonegate map status [--json] [--stale-ms MS] [--wait-ms MS] [--prune] ${STORE_USAGE}\n` +
    '  --wait-ms: wait until every reporting gateway runs the store version (exit 1 if they do not in time)\n' +
    '  --prune: forget gateways that have not reported for --stale-ms (crashed ones never say goodbye)',
  options: {
    ...STORE_OPTIONS,
    json: { type: 'boolean' },
    'stale-ms': { type: 'string' },
    'wait-ms': { type: 'string' },
    prune: { type: 'boolean' },
  },
  allowPositionals: false,
  async run({ values }, io) {
    const staleMs = Number(optionalString(values, 'stale-ms') ?? DEFAULT_STALE_MS);
    const waitMs = Number(optionalString(values, 'wait-ms') ?? 0);
    if (!Number.isFinite(staleMs) || staleMs <= 0)
      throw new UsageError('--stale-ms must be a positive number');
    if (!Number.isFinite(waitMs) || waitMs < 0) throw new UsageError('--wait-ms must be a number ≥ 0');
    const { readCurrent } = await import('../../drill/index.js');
    const store = await openStoreFrom(values);
    try {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const { version } = await readCurrent(store);
        let rows = classify(await store.gateways(), version, staleMs);
        if (flag(values, 'prune')) {
          const stale = rows.filter((r) => r.state === 'stale');
          for (const r of stale) await store.forgetGateway(r.report.id);
          if (stale.length > 0)
            io.err(
              `pruned ${stale.length} stale gateway report(s): ${stale.map((r) => r.report.id).join(', ')}`,
            );
          rows = rows.filter((r) => r.state !== 'stale');
        }
        const lagging = rows.filter((r) => r.state === 'behind' || r.state === 'ahead');
        if (lagging.length > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        if (flag(values, 'json')) {
          io.out(
            JSON.stringify(
              { version, gateways: rows.map((r) => ({ ...r.report, state: r.state, ageMs: r.ageMs })) },
              null,
              2,
            ),
          );
        } else {
          print(io, version, rows);
        }
        return waitMs > 0 && lagging.length > 0 ? 1 : 0;
      }
    } finally {
      await store.close();
    }
  },
};
