import type { BlastRadius } from './blast-radius.js';

/** Share of all shards one command may move without --force: one IDC of the example map, not a city. */
export const DEFAULT_MAX_MOVE_PERCENT = 25;

export interface GuardRailOptions {
  readonly maxMovePercent: number;
}

/** The reasons to refuse a change; empty when it may be written without --force. */
export function guardRailViolations(r: BlastRadius, options: GuardRailOptions): string[] {
  const out: string[] = [];
  if (r.newlyUnservedShards.length > 0) {
    out.push(
      `shards ${r.newlyUnservedShards.join(',')} would have no live zone (their zone and all its standbys are not live)`,
    );
  }
  for (const z of r.newlyUnservedZones)
    out.push(`zone ${z} would have no live zone (it and all its standbys are not live)`);
  const pct = (100 * r.movedShards) / r.shards;
  if (pct > options.maxMovePercent) {
    out.push(
      `${r.movedShards} of ${r.shards} shards (${pct.toFixed(1)}%) would change zone at once; ` +
        `the limit is ${options.maxMovePercent}% (--max-move-percent)`,
    );
  }
  return out;
}
