import { createInterface } from 'node:readline/promises';
import { InvalidDrillPlanError, STORE_OPTIONS, STORE_USAGE, openStoreFrom } from '../../drill/index.js';
import {
  loadDrillPlanFile,
  runDrill,
  writeReports,
  type DrillEvent,
  type DrillPlan,
  type DrillReport,
} from '../../drill/plan/index.js';
import { UsageError } from '../../core/errors.js';
import { flag, optionalString } from '../../core/args.js';
import type { CliIo, Command, OptionValues } from '../command.js';

/** The plan's `store` stands in for the store flags when none is given. */
function storeValues(values: OptionValues, plan: DrillPlan): OptionValues {
  const named = ['redis', 'sentinels', 'cluster', 'config', 'map'].some((k) => values[k] !== undefined);
  if (named || plan.store?.redis === undefined) return values;
  return {
    ...values,
    redis: plan.store.redis,
    ...(plan.store.keyPrefix === undefined || values['key-prefix'] !== undefined
      ? {}
      : { 'key-prefix': plan.store.keyPrefix }),
  };
}

/** Human progress: one line per step start and end; converge progress redrawn in place on a TTY. */
function humanProgress(io: CliIo, total: number, tty: boolean): (e: DrillEvent) => void {
  let redraw = false;
  let dryRun = false;
  const clear = (): void => {
    if (redraw) process.stderr.write('\r\x1b[2K');
    redraw = false;
  };
  return (e) => {
    if (e.type !== 'progress') clear();
    switch (e.type) {
      case 'start':
        dryRun = e.dryRun;
        io.out(
          `drill ${e.drill}: plan ${e.plan} on ${e.store}, map version ${e.version ?? 'none'}${e.dryRun ? ' (dry run: nothing is written)' : ''}`,
        );
        return;
      case 'step-start':
        io.out(`[${e.index + 1}/${total}] ${e.name}`);
        return;
      case 'progress':
        if (tty) {
          process.stderr.write(`\r\x1b[2K      ${e.message}`.slice(0, (process.stderr.columns || 100) - 1));
          redraw = true;
        }
        return;
      case 'step-end': {
        const v =
          e.versionTo !== undefined
            ? `: version ${e.versionFrom ?? 'none'} -> ${e.versionTo}${dryRun ? ' (would be written)' : ''}`
            : e.convergeMs !== undefined
              ? `: ${(e.convergeMs / 1000).toFixed(1)}s`
              : '';
        io.out(
          `      ${e.result}${v} (${(e.durationMs / 1000).toFixed(1)}s)${e.note === undefined ? '' : ` — ${e.note}`}`,
        );
        for (const line of e.blastRadius ?? []) io.out(`        ${line}`);
        for (const r of e.slos ?? []) io.out(`        ${r.ok ? 'ok' : 'BROKEN'}  ${r.label}: ${r.detail}`);
        if (e.error !== undefined) io.out(`      ${e.error.message} [${e.error.code}]`);
        return;
      }
      case 'abort':
        io.out(`ABORT: ${e.message} [${e.code}]`);
        return;
      case 'rollback':
        io.out(
          e.done
            ? `rolled back to the map of version ${e.to ?? 'none'} as version ${e.version ?? '?'}` +
                (e.converged === true
                  ? `; every gateway on it after ${((e.convergeMs ?? 0) / 1000).toFixed(1)}s`
                  : `; ${e.note ?? ''}`)
            : `ROLLBACK FAILED: ${e.error?.message ?? e.note ?? ''}`,
        );
        return;
      case 'figures': {
        const f = e.figures;
        io.out(
          `SLO ${e.window}: ${f.requests} requests, ${f.errors5xx} 5xx (${(f.errorRatio * 100).toFixed(3)}%), ` +
            `${f.noLiveZone} no-live-zone, MQTT moves ${f.mqttMovesOk} ok / ${f.mqttMovesFailed} failed`,
        );
        return;
      }
      case 'end':
        io.out(
          dryRun
            ? `dry run ${e.result === 'passed' ? 'done' : e.result}: nothing written`
            : `drill ${e.result}`,
        );
        return;
    }
  };
}

async function confirmOnTerminal(message: string, signal: AbortSignal): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`PAUSE: ${message}\ncontinue? [y/N] `, { signal });
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    return false;
  } finally {
    rl.close();
  }
}

export const drillRun: Command = {
  name: 'drill run',
  summary: 'Run a drill plan: its changes, waits, convergence and SLO checks, with automatic rollback.',
  usage:
    `zonegate drill run PLAN.yaml [--dry-run] [--yes] [--no-rollback] [--json] [--report DIR [--html]] [${STORE_USAGE}]\n` +
    "  --dry-run: every change step's blast radius, against the step before; nothing written\n" +
    '  --yes: do not stop at pause steps\n' +
    '  --no-rollback: on failure or abort, leave the map as the plan left it\n' +
    '  --json: one JSON object per event on stdout\n' +
    '  --report DIR: write DIR/<drill id>.md and .json (and .html with a timeline chart with --html)\n' +
    '  exit 0 passed, 1 failed or aborted (rolled back unless --no-rollback), 2 invalid plan or usage',
  options: {
    ...STORE_OPTIONS,
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean' },
    'no-rollback': { type: 'boolean' },
    json: { type: 'boolean' },
    report: { type: 'string' },
    html: { type: 'boolean' },
  },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw new UsageError('name exactly one plan file');
    const reportDir = optionalString(values, 'report');
    if (flag(values, 'html') && reportDir === undefined) throw new UsageError('--html needs --report DIR');
    let plan: DrillPlan;
    try {
      plan = await loadDrillPlanFile(file);
    } catch (err) {
      if (!(err instanceof InvalidDrillPlanError)) throw err;
      io.err(`zonegate drill run: ${err.message}\n[${err.code}]`);
      return 2;
    }
    const json = flag(values, 'json');
    const tty = process.stdout.isTTY && process.stdin.isTTY;
    const emit = json
      ? (e: DrillEvent) => io.out(JSON.stringify(e))
      : humanProgress(io, plan.steps.length, tty);
    const store = await openStoreFrom(storeValues(values, plan));
    const interrupt = new AbortController();
    const onSigint = (): void => {
      io.err('interrupted: stopping the drill (Ctrl-C again to quit at once)');
      process.off('SIGINT', onSigint);
      interrupt.abort();
    };
    process.on('SIGINT', onSigint);
    let report: DrillReport;
    try {
      report = await runDrill({
        plan,
        store,
        dryRun: flag(values, 'dry-run'),
        yes: flag(values, 'yes'),
        rollback: !flag(values, 'no-rollback'),
        emit,
        confirm: tty && !json ? confirmOnTerminal : null,
        signal: interrupt.signal,
      });
    } finally {
      process.off('SIGINT', onSigint);
      await store.close();
    }
    if (reportDir !== undefined) {
      const written = await writeReports(reportDir, report, flag(values, 'html'));
      if (!json) io.out(`report: ${written.join(', ')}`);
    }
    return report.result === 'passed' ? 0 : 1;
  },
};
