import type { CompiledZoneMap } from './model.js';
import { formatShardRanges } from './shards.js';

export interface ServingMove {
  /** Zone serving these shards before; null when none was live. */
  readonly from: string | null;
  /** Zone serving them after; null when none is live. */
  readonly to: string | null;
  /** Shard ranges, e.g. ["00-09", "15"]. */
  readonly shards: string[];
  readonly count: number;
}

function servingOf(map: CompiledZoneMap, shard: number): string | null {
  const owner = map.zones[map.shardOwner[shard] ?? -1];
  if (owner === undefined) return null;
  return map.zones[owner.serving]?.name ?? null;
}

/** Which shards change the zone that serves them between two maps (same shard count). */
export function diffServing(prev: CompiledZoneMap, next: CompiledZoneMap): ServingMove[] {
  const groups = new Map<string, { from: string | null; to: string | null; list: number[] }>();
  const n = Math.min(prev.shards, next.shards);
  for (let s = 0; s < n; s++) {
    const from = servingOf(prev, s);
    const to = servingOf(next, s);
    if (from === to) continue;
    const key = `${from ?? ''}>${to ?? ''}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { from, to, list: [] };
      groups.set(key, g);
    }
    g.list.push(s);
  }
  return [...groups.values()].map((g) => ({
    from: g.from,
    to: g.to,
    shards: formatShardRanges(g.list, next.shardWidth),
    count: g.list.length,
  }));
}
