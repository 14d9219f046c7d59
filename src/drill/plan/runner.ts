import { randomBytes } from 'node:crypto';
import type { ZoneMapDoc } from '../../zonemap/index.js';
import type { ZoneMapStore } from '../../zonemap/stores/index.js';
import { formatBlastRadius } from '../blast-radius.js';
import { waitForConvergence } from '../convergence.js';
import { DrillAbortedError } from '../errors.js';
import { DEFAULT_MAX_MOVE_PERCENT } from '../guard-rails.js';
import { commitChange, prepareChange, readCurrent, requireDoc } from '../run-change.js';
import { whoRan } from '../who.js';
import { figures, metricsTargets, scrapeAll, type Figures, type Scrape } from './checks.js';
import { DryRunStore } from './dry-run-store.js';
import { GuardWatch } from './guards.js';
import { PLAN_DEFAULTS, type DrillPlan, type Step } from './plan.js';
import type { DrillReport, RollbackRecord, StepRecord } from './report.js';
import { sleep } from './sleep.js';
import { describeStep, runStep, type StepContext } from './steps.js';

/** What a run tells as it goes: `--json` prints these as JSON lines, a terminal as progress. */
export type DrillEvent =
  | {
      readonly type: 'start';
      readonly drill: string;
      readonly plan: string;
      readonly store: string;
      readonly version: number | null;
      readonly dryRun: boolean;
      readonly at: string;
    }
  | {
      readonly type: 'step-start';
      readonly index: number;
      readonly kind: Step['kind'];
      readonly name: string;
      readonly at: string;
    }
  | { readonly type: 'progress'; readonly index: number; readonly message: string }
  | ({ readonly type: 'step-end' } & StepRecord)
  | { readonly type: 'abort'; readonly code: string; readonly message: string; readonly at: string }
  | ({ readonly type: 'rollback' } & RollbackRecord)
  | { readonly type: 'figures'; readonly window: 'before' | 'during' | 'after'; readonly figures: Figures }
  | { readonly type: 'end'; readonly result: DrillReport['result']; readonly at: string };

export interface RunDrillOptions {
  readonly plan: DrillPlan;
  readonly store: ZoneMapStore;
  readonly dryRun: boolean;
  /** Skip `pause` steps' confirmation. */
  readonly yes: boolean;
  /** Roll back to the version before the plan on failure or abort (default on; `--no-rollback`). */
  readonly rollback: boolean;
  readonly emit: (e: DrillEvent) => void;
  readonly confirm: StepContext['confirm'];
  /** Ctrl-C: aborting it stops the run, which then rolls back. */
  readonly signal?: AbortSignal;
  /** For tests: the drill id; default `<plan>-<UTC time>-<random>`. */
  readonly drillId?: string;
}

function newDrillId(plan: string): string {
  const t = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${plan}-${t}-${randomBytes(2).toString('hex')}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Runs a plan against a store: each step in order under the plan's guards; on a failed step,
 * a broken abort condition, the deadline or Ctrl-C, one compare-and-set back to the version
 * before the plan (unless disabled), then the report. Never throws for a drill that fails:
 * the report says so. Throws only when the store cannot be read at the start.
 */
export async function runDrill(o: RunDrillOptions): Promise<DrillReport> {
  const { plan } = o;
  const drillId = o.drillId ?? newDrillId(plan.name);
  const guards = plan.guards ?? {};
  const staleMs = guards.staleMs ?? PLAN_DEFAULTS.staleMs;
  const reportWindowMs = plan.report?.windowMs ?? PLAN_DEFAULTS.reportWindowMs;
  const store = o.dryRun ? new DryRunStore(o.store) : o.store;
  const who = whoRan();
  const started = Date.now();
  const initial = await readCurrent(o.store);
  const startDoc: ZoneMapDoc = requireDoc(initial);
  o.emit({
    type: 'start',
    drill: drillId,
    plan: plan.name,
    store: store.description,
    version: initial.version,
    dryRun: o.dryRun,
    at: iso(started),
  });

  const controller = new AbortController();
  const onOuterAbort = (): void =>
    controller.abort(new DrillAbortedError('interrupted by the operator (the drill rolls back)'));
  if (o.signal?.aborted === true) onOuterAbort();
  else o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const targets = (): Promise<string[]> => metricsTargets(o.store, plan.metrics ?? [], staleMs);
  const tryScrape = async (): Promise<Scrape | null> => {
    try {
      return await scrapeAll(await targets(), controller.signal);
    } catch {
      return null;
    }
  };
  const windows: DrillReport['figures'] = {};
  const noteFigures = (window: 'before' | 'during' | 'after', a: Scrape | null, b: Scrape | null): void => {
    if (a === null || b === null) return;
    const f = figures(a, b);
    windows[window] = f;
    o.emit({ type: 'figures', window, figures: f });
  };

  // 'before': the fleet as it was, over one window, before the plan touches anything.
  let runStart: Scrape | null = null;
  if (!o.dryRun) {
    const a = reportWindowMs > 0 ? await tryScrape() : null;
    if (a !== null) await sleep(reportWindowMs, controller.signal).catch(() => undefined);
    runStart = await tryScrape();
    noteFigures('before', a, runStart);
  }

  const watch = new GuardWatch({
    abortIf: guards.abortIf ?? [],
    abortWindowMs: guards.abortWindowMs ?? PLAN_DEFAULTS.abortWindowMs,
    pollMs: guards.pollMs ?? PLAN_DEFAULTS.pollMs,
    deadlineMs: guards.deadlineMs,
    targets,
    controller,
  });
  if (!o.dryRun) watch.start();

  const ctx: StepContext = {
    store,
    drillId,
    planName: plan.name,
    who,
    dryRun: o.dryRun,
    yes: o.yes,
    signal: controller.signal,
    staleMs,
    maxMovePercent: guards.maxMovePercent ?? DEFAULT_MAX_MOVE_PERCENT,
    targets,
    confirm: o.confirm,
    progress: () => undefined,
    lastWrite: null,
  };
  const records: StepRecord[] = [];
  let failure: { code: string; message: string } | null = null;
  for (const [index, step] of plan.steps.entries()) {
    if (controller.signal.aborted) break;
    const name = describeStep(step);
    const t0 = Date.now();
    o.emit({ type: 'step-start', index, kind: step.kind, name, at: iso(t0) });
    ctx.progress = (message) => o.emit({ type: 'progress', index, message });
    const outcome = await runStep(step, ctx);
    const t1 = Date.now();
    const record: StepRecord = {
      index,
      kind: step.kind,
      name,
      startedAt: iso(t0),
      endedAt: iso(t1),
      durationMs: t1 - t0,
      ...outcome,
    };
    records.push(record);
    o.emit({ type: 'step-end', ...record });
    if (outcome.result === 'failed') {
      failure = outcome.error ?? { code: 'ZG_ERR_INTERNAL', message: 'step failed' };
      break;
    }
  }
  await watch.stop();
  let aborted = false;
  if (controller.signal.aborted && failure === null) {
    const r = controller.signal.reason as { code?: string; message?: string };
    failure = { code: r.code ?? 'ZG_ERR_DRILL_ABORTED', message: r.message ?? 'aborted' };
  }
  if (controller.signal.aborted) {
    aborted = true;
    o.emit({
      type: 'abort',
      ...(failure ?? { code: 'ZG_ERR_DRILL_ABORTED', message: 'aborted' }),
      at: iso(Date.now()),
    });
  }
  o.signal?.removeEventListener('abort', onOuterAbort);

  let rollback: RollbackRecord | undefined;
  if (failure !== null && ctx.lastWrite !== null && !o.dryRun) {
    if (o.rollback) {
      rollback = await rollBack(o.store, startDoc, initial.version, ctx, plan, failure.message);
      o.emit({ type: 'rollback', ...rollback });
    } else {
      rollback = {
        done: false,
        to: initial.version,
        from: ctx.lastWrite.version,
        at: iso(Date.now()),
        note: '--no-rollback: the map stays as the plan left it',
      };
    }
  }

  if (!o.dryRun) {
    const runEnd = await tryScrape();
    noteFigures('during', runStart, runEnd);
    if (reportWindowMs > 0 && runEnd !== null) {
      await sleep(reportWindowMs);
      noteFigures('after', runEnd, await tryScrape());
    }
  }

  const ended = Date.now();
  const result: DrillReport['result'] = failure === null ? 'passed' : aborted ? 'aborted' : 'failed';
  const after = o.dryRun ? null : (await readCurrent(o.store)).version;
  o.emit({ type: 'end', result, at: iso(ended) });
  return {
    drill: drillId,
    plan: plan.name,
    ...(plan.description === undefined ? {} : { description: plan.description }),
    store: store.description,
    who,
    dryRun: o.dryRun,
    startedAt: iso(started),
    endedAt: iso(ended),
    durationMs: ended - started,
    result,
    ...(failure === null ? {} : { error: failure }),
    versionBefore: initial.version,
    versionAfter: after,
    steps: records,
    ...(rollback === undefined ? {} : { rollback }),
    figures: windows,
    timeline: watch.timeline,
  };
}

/**
 * Back to the map as it was before the plan, as one compare-and-set against the version this
 * drill wrote last: if someone else wrote since, their change is not overwritten blindly —
 * the rollback is refused with a conflict and the report says so.
 */
async function rollBack(
  store: ZoneMapStore,
  startDoc: ZoneMapDoc,
  startVersion: number | null,
  ctx: StepContext,
  plan: DrillPlan,
  why: string,
): Promise<RollbackRecord> {
  const from = ctx.lastWrite?.version ?? null;
  const t0 = Date.now();
  try {
    const prepared = await prepareChange(
      store,
      { action: `rollback to ${startVersion ?? 'none'}`, build: () => startDoc, basedOn: () => from },
      // Restoring the map the fleet ran before the plan: the guard rails do not apply.
      { maxMovePercent: 100, force: true },
    );
    await commitChange(store, prepared, {
      who: ctx.who,
      reason: `drill ${ctx.drillId} stopped: ${why}`.slice(0, 500),
      drill: ctx.drillId,
      plan: plan.name,
    });
    // As long as the plan gives its own convergence; 5 s when it has no converge step.
    const converges = plan.steps.flatMap((s) => (s.kind === 'converge' ? [s.timeoutMs] : []));
    const timeoutMs = converges.length === 0 ? 5000 : Math.max(...converges);
    const conv = await waitForConvergence(store, {
      version: prepared.nextVersion,
      timeoutMs,
      staleMs: ctx.staleMs,
    });
    return {
      done: true,
      to: startVersion,
      from,
      version: prepared.nextVersion,
      at: iso(t0),
      blastRadius: formatBlastRadius(prepared.radius),
      converged: conv.converged,
      convergeMs: conv.elapsedMs,
      ...(conv.converged ? {} : { note: conv.problems.join('; ') }),
    };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return {
      done: false,
      to: startVersion,
      from,
      at: iso(t0),
      error: { code: e.code ?? 'ZG_ERR_INTERNAL', message: e.message ?? String(err) },
    };
  }
}
