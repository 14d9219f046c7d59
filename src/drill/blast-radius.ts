import type { CompiledRelease, CompiledZone, CompiledZoneMap, ServingMove } from '../zonemap/index.js';
import { diffServing, formatShardRanges } from '../zonemap/index.js';
import { docChanges } from './doc-changes.js';

export interface ColourShift {
  readonly zone: string;
  /** Users moving blue → green, in "whole shards' worth of users" (0.5 = half a shard). */
  readonly toGreenShards: number;
  readonly toBlueShards: number;
  /** Explicitly listed uids added to / removed from greenUids. */
  readonly uidsAdded: number;
  readonly uidsRemoved: number;
}

/** Everything a change does to traffic, computed from the compiled maps before and after. */
export interface BlastRadius {
  readonly shards: number;
  readonly changes: readonly string[];
  readonly moves: readonly ServingMove[];
  readonly movedShards: number;
  /** Shard ranges that had a live zone before and have none after. */
  readonly newlyUnservedShards: readonly string[];
  /** GZones and CZones that had a live zone (themselves or a standby) before and have none after. */
  readonly newlyUnservedZones: readonly string[];
  readonly colour: readonly ColourShift[];
  /** Zones that had at least one live standby before and have none after. */
  readonly lostLastStandby: readonly string[];
}

export function blastRadius(prev: CompiledZoneMap | null, next: CompiledZoneMap): BlastRadius {
  const moves = prev === null ? [] : diffServing(prev, next);
  const unserved: number[] = [];
  const unservedZones: string[] = [];
  const lostLastStandby: string[] = [];
  const colour: ColourShift[] = [];
  if (prev !== null) {
    for (let s = 0; s < Math.min(prev.shards, next.shards); s++) {
      if (servingOf(prev, s) >= 0 && servingOf(next, s) < 0) unserved.push(s);
    }
    for (const z of next.zones) {
      const before = zoneByName(prev, z.name);
      if (before === undefined) continue;
      if (z.kind !== 'rzone' && before.serving >= 0 && z.serving < 0) unservedZones.push(z.name);
      if (liveStandbys(prev, before) > 0 && liveStandbys(next, z) === 0) lostLastStandby.push(z.name);
      const shift = colourShift(before, z);
      if (shift !== null) colour.push(shift);
    }
  }
  return {
    shards: next.shards,
    changes: docChanges(prev?.doc ?? null, next.doc),
    moves,
    movedShards: moves.reduce((n, m) => n + m.count, 0),
    newlyUnservedShards: formatShardRanges(unserved, next.shardWidth),
    newlyUnservedZones: unservedZones,
    colour,
    lostLastStandby,
  };
}

function servingOf(map: CompiledZoneMap, shard: number): number {
  return map.zones[map.shardOwner[shard] ?? -1]?.serving ?? -1;
}

function zoneByName(map: CompiledZoneMap, name: string): CompiledZone | undefined {
  const i = map.zoneIndex.get(name);
  return i === undefined ? undefined : map.zones[i];
}

function liveStandbys(map: CompiledZoneMap, zone: CompiledZone): number {
  return zone.failover.filter((i) => map.zones[i]?.live === true).length;
}

/**
 * Colour is stable by uid hash below `green` basis points, so raising 10% → 30% moves
 * exactly the users hashed into [10%, 30%): the difference of the two shares, shard by
 * shard. A whole green shard is share 1.
 */
function colourShift(before: CompiledZone, after: CompiledZone): ColourShift | null {
  const a = before.release;
  const b = after.release;
  let toGreen = 0;
  let toBlue = 0;
  for (const s of after.shards) {
    const d = greenShare(b, s) - greenShare(a, s);
    if (d > 0) toGreen += d;
    else toBlue -= d;
  }
  let added = 0;
  let removed = 0;
  for (const u of b.greenUids) if (!a.greenUids.has(u)) added++;
  for (const u of a.greenUids) if (!b.greenUids.has(u)) removed++;
  if (toGreen === 0 && toBlue === 0 && added === 0 && removed === 0) return null;
  return {
    zone: after.name,
    toGreenShards: toGreen,
    toBlueShards: toBlue,
    uidsAdded: added,
    uidsRemoved: removed,
  };
}

function greenShare(r: CompiledRelease, shard: number): number {
  return r.greenShards[shard] === 1 ? 1 : r.greenBasisPoints / 10000;
}

/** The dry-run / blast-radius report, one line per fact. */
export function formatBlastRadius(r: BlastRadius): string[] {
  const lines: string[] = [];
  lines.push(r.changes.length === 0 ? 'changes: none' : 'changes:');
  for (const c of r.changes) lines.push(`  ${c}`);
  const pct = (n: number): string => `${((100 * n) / r.shards).toFixed(1)}%`;
  lines.push(`serving moves: ${r.movedShards} of ${r.shards} shards (${pct(r.movedShards)})`);
  for (const m of r.moves) {
    lines.push(
      `  ${m.shards.join(',')}  ${m.from ?? '(no live zone)'} -> ${m.to ?? '(no live zone)'}  [${m.count}]`,
    );
  }
  const colourLines = r.colour.map((c) => {
    const parts: string[] = [];
    if (c.toGreenShards > 0)
      parts.push(`blue -> green ≈ ${c.toGreenShards.toFixed(2)} shards (${pct(c.toGreenShards)} of users)`);
    if (c.toBlueShards > 0)
      parts.push(`green -> blue ≈ ${c.toBlueShards.toFixed(2)} shards (${pct(c.toBlueShards)} of users)`);
    if (c.uidsAdded > 0) parts.push(`+${c.uidsAdded} listed uid(s) to green`);
    if (c.uidsRemoved > 0) parts.push(`-${c.uidsRemoved} listed uid(s) back to blue`);
    return `  ${c.zone}: ${parts.join(', ')}`;
  });
  lines.push(colourLines.length === 0 ? 'colour changes: none' : 'colour changes:', ...colourLines);
  lines.push(
    r.lostLastStandby.length === 0
      ? 'zones losing their last live standby: none'
      : `zones losing their last live standby: ${r.lostLastStandby.join(', ')}`,
  );
  const unserved = [
    ...(r.newlyUnservedShards.length > 0 ? [`shards ${r.newlyUnservedShards.join(',')}`] : []),
    ...r.newlyUnservedZones.map((z) => `zone ${z}`),
  ];
  lines.push(`left with no live zone: ${unserved.length === 0 ? 'none' : unserved.join('; ')}`);
  return lines;
}

/** One line for the history entry. */
export function summarizeBlastRadius(r: BlastRadius): string {
  const parts = [...r.changes];
  for (const m of r.moves) parts.push(`${m.shards.join(',')} ${m.from ?? 'none'}->${m.to ?? 'none'}`);
  return parts.length === 0 ? 'no change' : parts.join('; ');
}
