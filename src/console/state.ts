/**
 * The read-only picture the console shows, built from the store and the compiled map exactly
 * as a gateway compiles it: the shard grid is the compiled shard → owner → serving table,
 * not a re-implementation of failover.
 */
import { docChanges, readCurrent } from '../drill/index.js';
import { compileZoneMap, formatShardRanges, type CompiledZoneMap } from '../zonemap/index.js';
import {
  gatewayReportState,
  type GatewayReport,
  type HistoryEntry,
  type ZoneMapStore,
} from '../zonemap/stores/index.js';
import type { GatewayView, HistoryView, MapView } from './view.js';

export function mapView(map: CompiledZoneMap): MapView {
  const name = (i: number): string | null => map.zones[i]?.name ?? null;
  const zones = map.zones.map((z) => {
    const greenWhole = z.shards.filter((s) => z.release.greenShards[s] === 1).length;
    const rest = z.shards.length - greenWhole;
    const greenPercent =
      z.shards.length === 0
        ? z.release.greenBasisPoints / 100
        : (100 * (greenWhole + (rest * z.release.greenBasisPoints) / 10000)) / z.shards.length;
    return {
      name: z.name,
      kind: z.kind,
      idc: z.idc,
      city: z.city,
      status: z.status,
      effectiveStatus: z.effectiveStatus,
      live: z.live,
      weight: z.weight,
      standbys: z.failover.map((i) => name(i) ?? '?'),
      servedBy: name(z.serving),
      shards: formatShardRanges(z.shards, map.shardWidth),
      shardCount: z.shards.length,
      greenPercent,
      greenShards: formatShardRanges(
        z.shards.filter((s) => z.release.greenShards[s] === 1),
        map.shardWidth,
      ),
      greenUidCount: z.release.greenUids.size,
    };
  });
  const owner: string[] = [];
  const serving: (string | null)[] = [];
  for (let s = 0; s < map.shards; s++) {
    const z = map.zones[map.shardOwner[s] ?? -1];
    owner.push(z?.name ?? '');
    serving.push(z === undefined ? null : name(z.serving));
  }
  const cities = [...map.cities.values()].map((c) => ({
    name: c.name,
    status: c.status,
    idcs: c.idcs.map((i) => {
      const idc = map.idcs.get(i);
      return {
        name: i,
        status: idc?.status ?? 'up',
        effectiveStatus: idc?.effectiveStatus ?? c.status,
        zones: map.zones.filter((z) => z.idc === i).map((z) => z.name),
      };
    }),
  }));
  return {
    version: map.version,
    shards: map.shards,
    shardWidth: map.shardWidth,
    cities,
    zones,
    owner,
    serving,
  };
}

/** Same rule as `zonegate map status`: silence longer than staleMs means the gateway is gone. */
export function gatewayViews(
  reports: readonly GatewayReport[],
  version: number | null,
  staleMs: number,
  nowMs: number,
): GatewayView[] {
  return reports
    .map((r) => {
      const { state, ageMs } = gatewayReportState(r, version, staleMs, nowMs);
      return {
        id: r.id,
        idc: r.idc,
        version: r.version,
        state,
        lag: version !== null && r.version < version ? version - r.version : 0,
        ageMs,
        appliedAt: r.appliedAt,
        from: r.from,
      } satisfies GatewayView;
    })
    .sort((a, b) => a.idc.localeCompare(b.idc) || a.id.localeCompare(b.id));
}

/**
 * History with each write's field-by-field diff against the version it replaced. Written
 * versions never change, so diffs are computed once and kept.
 */
export class HistoryDiffs {
  private readonly cache = new Map<string, readonly string[]>();

  constructor(private readonly store: ZoneMapStore) {}

  async views(entries: readonly HistoryEntry[]): Promise<HistoryView[]> {
    const out: HistoryView[] = [];
    for (const e of entries) out.push({ ...e, changes: await this.changes(e) });
    // Keep only what is still listed: the cache must not grow with every write of a long drill.
    const listed = new Set(entries.map((e) => `${e.id}/${e.version}`));
    for (const key of this.cache.keys()) if (!listed.has(key)) this.cache.delete(key);
    return out;
  }

  private async changes(e: HistoryEntry): Promise<readonly string[]> {
    const key = `${e.id}/${e.version}`;
    const known = this.cache.get(key);
    if (known !== undefined) return known;
    let changes: readonly string[];
    try {
      const { doc } = await this.store.historyDoc(e.version);
      const prev = e.previous === null ? null : (await this.store.historyDoc(e.previous)).doc;
      changes = docChanges(prev, doc);
    } catch {
      // Trimmed from history, or not one of ours: the one-line summary still shows what happened.
      changes = [];
    }
    this.cache.set(key, changes);
    return changes;
  }
}

/** The compiled map in the store, or why there is none. */
export async function currentMap(
  store: ZoneMapStore,
): Promise<{ version: number | null; map: CompiledZoneMap | null; problem: string | null }> {
  const cur = await readCurrent(store);
  if (cur.doc === null) {
    return {
      version: cur.version,
      map: null,
      problem: cur.problem?.message ?? 'the store holds no zone map yet',
    };
  }
  return { version: cur.version, map: compileZoneMap(cur.doc), problem: null };
}
