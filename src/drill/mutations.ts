import { UsageError } from '../core/errors.js';
import type { ReleaseDoc, Status, ZoneDoc, ZoneMapDoc } from '../zonemap/index.js';
import { formatShardRanges, parseShardSpecs, shardWidth } from '../zonemap/index.js';

/**
 * The drill commands' edits, as pure functions from one document to the next. They only
 * check that the names exist; everything else is left to validateZoneMap, which runs on
 * the result before anything is written.
 */

function known(kind: string, name: string, names: readonly string[]): void {
  if (!names.includes(name)) {
    throw new UsageError(`unknown ${kind} '${name}' (known: ${names.join(', ') || 'none'})`);
  }
}

function withZone(doc: ZoneMapDoc, name: string, change: (z: ZoneDoc) => ZoneDoc): ZoneMapDoc {
  known('zone', name, Object.keys(doc.zones));
  const zone = doc.zones[name] as ZoneDoc;
  return { ...doc, zones: { ...doc.zones, [name]: change(zone) } };
}

export function setZoneStatus(doc: ZoneMapDoc, zone: string, status: Status): ZoneMapDoc {
  return withZone(doc, zone, (z) => ({ ...z, status }));
}

export function setZoneWeight(doc: ZoneMapDoc, zone: string, weight: number): ZoneMapDoc {
  return withZone(doc, zone, (z) => ({ ...z, weight }));
}

export function setIdcStatus(doc: ZoneMapDoc, idc: string, status: Status): ZoneMapDoc {
  const all = Object.values(doc.cities).flatMap((c) => c.idcs);
  known('IDC', idc, all);
  return { ...doc, idcs: { ...doc.idcs, [idc]: { ...doc.idcs?.[idc], status } } };
}

export function setCityStatus(doc: ZoneMapDoc, city: string, status: Status): ZoneMapDoc {
  known('city', city, Object.keys(doc.cities));
  const c = doc.cities[city];
  if (c === undefined) return doc;
  return { ...doc, cities: { ...doc.cities, [city]: { ...c, status } } };
}

/** Gives `specs` (e.g. ["30-34", "39"]) to RZone `to`, taking them from their current owners. */
export function moveShards(doc: ZoneMapDoc, specs: readonly string[], to: string): ZoneMapDoc {
  known('zone', to, Object.keys(doc.zones));
  if (doc.zones[to]?.kind !== 'rzone') {
    throw new UsageError(`zone '${to}' is a ${doc.zones[to]?.kind ?? '?'}; only RZones own shards`);
  }
  const parsed = parseShardSpecs(specs, doc.shards);
  if (parsed.problems.length > 0) {
    throw new UsageError(`bad shard range: ${parsed.problems.map((p) => p.message).join('; ')}`);
  }
  if (parsed.shards.length === 0) throw new UsageError('name at least one shard or range');
  const moving = new Set(parsed.shards);
  const width = shardWidth(doc.shards);
  const zones: Record<string, ZoneDoc> = {};
  for (const [name, z] of Object.entries(doc.zones)) {
    if (z.kind !== 'rzone') {
      zones[name] = z;
      continue;
    }
    const own = parseShardSpecs(z.shards ?? [], doc.shards).shards;
    const kept = name === to ? [...new Set([...own, ...moving])] : own.filter((s) => !moving.has(s));
    zones[name] = { ...z, shards: formatShardRanges(kept, width) };
  }
  return { ...doc, zones };
}

export interface ReleaseChange {
  readonly green?: number;
  readonly greenShards?: readonly string[];
  readonly greenUids?: readonly string[];
}

export function setRelease(doc: ZoneMapDoc, zone: string, change: ReleaseChange): ZoneMapDoc {
  return withZone(doc, zone, (z) => {
    const release: ReleaseDoc = { ...z.release };
    return {
      ...z,
      release: {
        ...release,
        ...(change.green === undefined ? {} : { green: change.green }),
        ...(change.greenShards === undefined ? {} : { greenShards: change.greenShards }),
        ...(change.greenUids === undefined ? {} : { greenUids: change.greenUids }),
      },
    };
  });
}

/** The same document with another version number (every write bumps it). */
export function withVersion(doc: ZoneMapDoc, version: number): ZoneMapDoc {
  return { ...doc, version };
}
