import { formatProblem, ZonegateError, type Problem } from '../core/errors.js';

/**
 * A drill command's change tripped a guard rail (shards left with no live zone, too many
 * shards moved at once). Nothing was written; `--force` overrides after review.
 */
export class DrillRefusedError extends ZonegateError {
  readonly reasons: readonly string[];
  constructor(reasons: readonly string[]) {
    super(
      'ZG_ERR_DRILL_REFUSED',
      `refused (nothing written; re-run with --force to override):\n${reasons.map((r) => `  - ${r}`).join('\n')}`,
      { httpStatus: 409 },
    );
    this.reasons = reasons;
  }
}

/**
 * The gateways did not all report the expected map version in time, or none reported, or a
 * reporter went stale (`map status --wait`, a plan's `converge` step).
 */
export class DrillNotConvergedError extends ZonegateError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], elapsedMs: number) {
    super(
      'ZG_ERR_DRILL_NOT_CONVERGED',
      `not converged after ${(elapsedMs / 1000).toFixed(1)}s: ${problems.join('; ')}`,
      { httpStatus: 503 },
    );
    this.problems = problems;
  }
}

/** A drill plan file was refused (schema or semantic problems); nothing ran. */
export class InvalidDrillPlanError extends ZonegateError {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[], source: string) {
    super(
      'ZG_ERR_DRILL_PLAN_INVALID',
      `${source} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join('\n'),
      { httpStatus: 400 },
    );
    this.problems = problems;
  }
}

/** A plan's check or abort condition found an SLO broken; the run stops (and rolls back). */
export class DrillCheckFailedError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_DRILL_CHECK_FAILED', message, { httpStatus: 409 });
  }
}

/** The run was stopped: its deadline passed, the operator declined a pause, or Ctrl-C. */
export class DrillAbortedError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_DRILL_ABORTED', message, { httpStatus: 409 });
  }
}

/** A gateway's metrics could not be read or parsed (the check that needed them fails). */
export class MetricsScrapeError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_METRICS_SCRAPE', message, { httpStatus: 502, cause });
  }
}
