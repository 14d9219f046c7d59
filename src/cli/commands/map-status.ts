import { UsageError } from '../../core/errors.js';
import {
  DEFAULT_STALE_MS,
  DrillNotConvergedError,
  STORE_OPTIONS,
  STORE_USAGE,
  openStoreFrom,
  waitForConvergence,
  type FleetView,
  type GatewayRow,
} from '../../drill/index.js';
import { flag, optionalString } from '../../core/args.js';
import type { CliIo, Command } from '../command.js';

/** `--wait` without `--wait-ms`. */
const DEFAULT_WAIT_MS = 30_000;

function print(io: CliIo, version: number | null, rows: readonly GatewayRow[]): void {
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

function progressLine(view: FleetView, elapsedMs: number): string {
  const current = view.rows.filter((r) => r.state === 'current').length;
  return (
    `waiting ${(elapsedMs / 1000).toFixed(1)}s: ${current} of ${view.rows.length} gateways on version ` +
    `${view.version ?? 'none'}${view.problems.length === 0 ? '' : ` — ${view.problems.join('; ')}`}`
  );
}

export const mapStatus: Command = {
  name: 'map status',
  summary: 'Show which zone map version every gateway runs, and which ones lag.',
  usage:
    `zonegate map status [--json] [--stale-ms MS] [--wait | --wait-ms MS] [--prune] ${STORE_USAGE}\n` +
    '  --wait / --wait-ms: wait (30 s / MS) until every gateway reports the store version; exit 1 if they\n' +
    '    do not in time, if no gateway reports at all, or if any reporter is stale\n' +
    '  --prune: forget gateways that have not reported for --stale-ms (crashed ones never say goodbye)',
  options: {
    ...STORE_OPTIONS,
    json: { type: 'boolean' },
    'stale-ms': { type: 'string' },
    wait: { type: 'boolean' },
    'wait-ms': { type: 'string' },
    prune: { type: 'boolean' },
  },
  allowPositionals: false,
  async run({ values }, io) {
    const staleMs = Number(optionalString(values, 'stale-ms') ?? DEFAULT_STALE_MS);
    const waitOpt = optionalString(values, 'wait-ms');
    const waiting = flag(values, 'wait') || waitOpt !== undefined;
    const waitMs = Number(waitOpt ?? (waiting ? DEFAULT_WAIT_MS : 0));
    if (!Number.isFinite(staleMs) || staleMs <= 0)
      throw new UsageError('--stale-ms must be a positive number');
    if (!Number.isFinite(waitMs) || waitMs < 0) throw new UsageError('--wait-ms must be a number ≥ 0');
    const tty = waiting && process.stderr.isTTY && !flag(values, 'json');
    const store = await openStoreFrom(values);
    try {
      const result = await waitForConvergence(store, {
        timeoutMs: waitMs,
        staleMs,
        prune: flag(values, 'prune'),
        ...(tty
          ? {
              onProgress: (view: FleetView, elapsedMs: number) => {
                const line = progressLine(view, elapsedMs).slice(0, (process.stderr.columns || 100) - 1);
                process.stderr.write(`\r\x1b[2K${line}`);
              },
            }
          : {}),
      });
      if (tty) process.stderr.write('\r\x1b[2K');
      if (result.pruned.length > 0)
        io.err(`pruned ${result.pruned.length} stale gateway report(s): ${result.pruned.join(', ')}`);
      const { version, rows } = result;
      if (flag(values, 'json')) {
        io.out(
          JSON.stringify(
            {
              version,
              converged: result.converged,
              problems: result.problems,
              gateways: rows.map((r) => ({ ...r.report, state: r.state, ageMs: r.ageMs })),
            },
            null,
            2,
          ),
        );
      } else {
        print(io, version, rows);
      }
      if (!waiting) return 0;
      if (result.converged) {
        if (!flag(values, 'json'))
          io.out(`converged after ${(result.elapsedMs / 1000).toFixed(1)}s on version ${version ?? 'none'}`);
        return 0;
      }
      const failed = new DrillNotConvergedError(result.problems, result.elapsedMs);
      io.err(`${failed.message}\n[${failed.code}]`);
      return 1;
    } finally {
      await store.close();
    }
  },
};
