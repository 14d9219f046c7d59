import type { Status } from '../../zonemap/index.js';

/** A drill plan as validated against policies/drill-plan.schema.json. */

/** An SLO read from the gateways' own metrics over a window. */
export type Slo =
  | { readonly metric: 'error-ratio'; readonly zone?: string; readonly max: number }
  | { readonly metric: 'no-live-zone'; readonly max: number }
  | {
      readonly metric: 'upstream-latency';
      readonly zone?: string;
      readonly quantile: number;
      readonly maxMs: number;
    }
  | { readonly metric: 'mqtt-moves-failed'; readonly max: number };

interface StepBase {
  /** Shown in progress and the report; default a description of the step. */
  readonly name?: string;
}

interface ChangeBase extends StepBase {
  /** Recorded in history with the write. */
  readonly reason?: string;
  /** Write even when the guard rails refuse (like the CLI's --force). */
  readonly force?: boolean;
}

export type ChangeStep =
  | (ChangeBase & { readonly kind: 'zone'; readonly zone: string; readonly status: Status })
  | (ChangeBase & { readonly kind: 'idc'; readonly idc: string; readonly status: Status })
  | (ChangeBase & { readonly kind: 'city'; readonly city: string; readonly status: Status })
  | (ChangeBase & { readonly kind: 'weight'; readonly zone: string; readonly weight: number })
  | (ChangeBase & { readonly kind: 'shards'; readonly shards: readonly string[]; readonly to: string })
  | (ChangeBase & {
      readonly kind: 'release';
      readonly zone: string;
      readonly green?: number;
      readonly greenShards?: readonly string[];
      readonly greenUids?: readonly string[];
    });

export type Step =
  | ChangeStep
  | (StepBase & { readonly kind: 'wait'; readonly ms: number })
  | (StepBase & { readonly kind: 'converge'; readonly timeoutMs: number })
  | (StepBase & { readonly kind: 'check'; readonly windowMs: number; readonly slos: readonly Slo[] })
  | (StepBase & { readonly kind: 'pause'; readonly message: string });

export type StepKind = Step['kind'];

export const CHANGE_KINDS: readonly StepKind[] = ['zone', 'idc', 'city', 'weight', 'shards', 'release'];

export function isChangeStep(step: Step): step is ChangeStep {
  return CHANGE_KINDS.includes(step.kind);
}

export interface Guards {
  readonly deadlineMs?: number;
  readonly abortIf?: readonly Slo[];
  readonly abortWindowMs?: number;
  readonly pollMs?: number;
  readonly maxMovePercent?: number;
  readonly staleMs?: number;
}

export interface DrillPlan {
  readonly name: string;
  readonly description?: string;
  readonly store?: { readonly redis?: string; readonly keyPrefix?: string };
  readonly metrics?: readonly string[];
  readonly guards?: Guards;
  readonly report?: { readonly windowMs?: number };
  readonly steps: readonly Step[];
}

/** Defaults, written once with their units. */
export const PLAN_DEFAULTS = {
  abortWindowMs: 5000,
  pollMs: 1000,
  staleMs: 15_000,
  reportWindowMs: 3000,
} as const;
