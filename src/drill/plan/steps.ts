import type { ZoneMapStore } from '../../zonemap/stores/index.js';
import { formatBlastRadius } from '../blast-radius.js';
import { waitForConvergence, type FleetView } from '../convergence.js';
import {
  DrillAbortedError,
  DrillCheckFailedError,
  DrillNotConvergedError,
  DrillRefusedError,
} from '../errors.js';
import { setZoneWeight } from '../mutations.js';
import { releaseChangePlan, shardsMovePlan, statusPlan } from '../plans.js';
import { commitChange, prepareChange, requireDoc, type ChangePlan } from '../run-change.js';
import { evaluateSlo, scrapeAll, type SloResult } from './checks.js';
import type { ChangeStep, Step } from './plan.js';
import { sleep } from './sleep.js';

/** What a step did, for progress, the report and the runner's decision to go on. */
export interface StepOutcome {
  readonly result: 'ok' | 'noop' | 'skipped' | 'failed';
  /** Versions of a change step's write. */
  readonly versionFrom?: number | null;
  readonly versionTo?: number;
  /** A change step's blast radius, one line per fact. */
  readonly blastRadius?: readonly string[];
  /** Converge: from this step's start, and from the plan's last write, until every gateway ran it. */
  readonly convergeMs?: number;
  readonly sinceWriteMs?: number;
  readonly slos?: readonly SloResult[];
  readonly note?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Everything a step needs from the run. */
export interface StepContext {
  readonly store: ZoneMapStore;
  readonly drillId: string;
  readonly planName: string;
  readonly who: string;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly signal: AbortSignal;
  readonly staleMs: number;
  readonly maxMovePercent: number;
  /** The /metrics URLs to read SLOs from (resolved at each check). */
  readonly targets: () => Promise<string[]>;
  /** Asks the operator; false = stop. Null when there is nobody to ask (not a TTY). */
  readonly confirm: ((message: string, signal: AbortSignal) => Promise<boolean>) | null;
  progress: (message: string) => void;
  /** The version the plan wrote last and when; updated by change steps. */
  lastWrite: { version: number; at: number } | null;
}

/** The drill command's edit for a change step, named the way the CLI names it in history. */
export function changePlanFor(step: ChangeStep): ChangePlan {
  switch (step.kind) {
    case 'zone':
      return statusPlan('zone', step.zone, step.status);
    case 'idc':
      return statusPlan('idc', step.idc, step.status);
    case 'city':
      return statusPlan('city', step.city, step.status);
    case 'weight':
      return {
        action: `zone weight ${step.zone} ${step.weight}`,
        build: (cur) => setZoneWeight(requireDoc(cur), step.zone, step.weight),
      };
    case 'shards':
      // The schema asks for at least one range, so shardsMovePlan's own check never fires here.
      return shardsMovePlan(step.shards, step.to);
    case 'release':
      return releaseChangePlan(step.zone, {
        ...(step.green === undefined ? {} : { green: step.green }),
        ...(step.greenShards === undefined ? {} : { greenShards: step.greenShards }),
        ...(step.greenUids === undefined ? {} : { greenUids: step.greenUids }),
      });
  }
}

/** A short description of a step for progress lines and the report. */
export function describeStep(step: Step): string {
  if (step.name !== undefined) return step.name;
  switch (step.kind) {
    case 'wait':
      return `wait ${step.ms} ms`;
    case 'converge':
      return `converge within ${step.timeoutMs} ms`;
    case 'check':
      return `check over ${step.windowMs} ms`;
    case 'pause':
      return `pause: ${step.message}`;
    default:
      return changePlanFor(step).action;
  }
}

function failed(err: unknown, extra: Omit<StepOutcome, 'result' | 'error'> = {}): StepOutcome {
  const e = err as { code?: unknown; message?: unknown };
  return {
    ...extra,
    result: 'failed',
    error: {
      code: typeof e.code === 'string' ? e.code : 'ZG_ERR_INTERNAL',
      message: typeof e.message === 'string' ? e.message : String(err),
    },
  };
}

function progressOf(view: FleetView, elapsedMs: number): string {
  const current = view.rows.filter((r) => r.state === 'current').length;
  return `${(elapsedMs / 1000).toFixed(1)}s: ${current} of ${view.rows.length} gateways on version ${view.version ?? 'none'}`;
}

export async function runStep(step: Step, ctx: StepContext): Promise<StepOutcome> {
  try {
    switch (step.kind) {
      case 'wait':
        if (ctx.dryRun) return { result: 'skipped', note: 'dry run' };
        await sleep(step.ms, ctx.signal);
        return { result: 'ok' };
      case 'converge':
        return ctx.dryRun ? { result: 'skipped', note: 'dry run' } : await converge(step.timeoutMs, ctx);
      case 'check':
        return ctx.dryRun
          ? { result: 'skipped', note: `dry run; would check ${step.slos.length} SLO(s)` }
          : await check(step, ctx);
      case 'pause':
        return ctx.dryRun ? { result: 'skipped', note: 'dry run' } : await pause(step.message, ctx);
      default:
        return await change(step, ctx);
    }
  } catch (err) {
    // An abort (guard, deadline, Ctrl-C) surfaces in the step as whatever it interrupted: name the cause.
    return failed(ctx.signal.aborted ? ctx.signal.reason : err);
  }
}

async function change(step: ChangeStep, ctx: StepContext): Promise<StepOutcome> {
  const prepared = await prepareChange(ctx.store, changePlanFor(step), {
    maxMovePercent: ctx.maxMovePercent,
    force: step.force === true,
  });
  const facts = {
    versionFrom: prepared.current.version,
    blastRadius: formatBlastRadius(prepared.radius),
  };
  if (prepared.noop) return { ...facts, result: 'noop', note: 'the map already says so; nothing written' };
  if (prepared.refused) return failed(new DrillRefusedError(prepared.violations), facts);
  if (ctx.signal.aborted) throw ctx.signal.reason;
  await commitChange(ctx.store, prepared, {
    who: ctx.who,
    reason: step.reason ?? `drill plan ${ctx.planName}`,
    drill: ctx.drillId,
    plan: ctx.planName,
  });
  ctx.lastWrite = { version: prepared.nextVersion, at: Date.now() };
  return { ...facts, result: 'ok', versionTo: prepared.nextVersion };
}

async function converge(timeoutMs: number, ctx: StepContext): Promise<StepOutcome> {
  const result = await waitForConvergence(ctx.store, {
    ...(ctx.lastWrite === null ? {} : { version: ctx.lastWrite.version }),
    timeoutMs,
    staleMs: ctx.staleMs,
    signal: ctx.signal,
    onProgress: (view, ms) => ctx.progress(progressOf(view, ms)),
  });
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const sinceWriteMs = ctx.lastWrite === null ? undefined : Date.now() - ctx.lastWrite.at;
  const timing = {
    convergeMs: result.elapsedMs,
    ...(sinceWriteMs === undefined ? {} : { sinceWriteMs }),
  };
  if (!result.converged) return failed(new DrillNotConvergedError(result.problems, result.elapsedMs), timing);
  return {
    ...timing,
    result: 'ok',
    note: `${result.rows.length} gateway(s) on version ${result.version ?? 'none'}`,
  };
}

async function check(step: Extract<Step, { kind: 'check' }>, ctx: StepContext): Promise<StepOutcome> {
  const targets = await ctx.targets();
  const from = await scrapeAll(targets, ctx.signal);
  await sleep(step.windowMs, ctx.signal);
  const to = await scrapeAll(targets, ctx.signal);
  const slos = step.slos.map((s) => evaluateSlo(s, from, to));
  const broken = slos.filter((r) => !r.ok);
  if (broken.length > 0) {
    return failed(
      new DrillCheckFailedError(
        `SLO broken over ${step.windowMs} ms: ${broken.map((r) => `${r.label}: ${r.detail}`).join('; ')}`,
      ),
      { slos },
    );
  }
  return { result: 'ok', slos, note: `${targets.length} metrics endpoint(s)` };
}

async function pause(message: string, ctx: StepContext): Promise<StepOutcome> {
  if (ctx.yes) return { result: 'ok', note: 'confirmed by --yes' };
  if (ctx.confirm === null)
    return failed(new DrillAbortedError(`pause "${message}" needs an operator on a terminal, or --yes`));
  const go = await ctx.confirm(message, ctx.signal);
  if (!go) return failed(new DrillAbortedError(`the operator stopped the drill at "${message}"`));
  return { result: 'ok', note: 'confirmed by the operator' };
}
