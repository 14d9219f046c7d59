import { ZonegateError } from '../core/errors.js';

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
