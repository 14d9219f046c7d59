import type {
  CompiledCity,
  CompiledIdc,
  CompiledRelease,
  CompiledZone,
  CompiledZoneMap,
  Status,
  WeightedTable,
  ZoneMapDoc,
} from './model.js';
import { parseShardSpecs, shardWidth } from './shards.js';

const DEFAULT_RZONE_WEIGHT = 100;
const EMPTY: readonly string[] = Object.freeze([]);

/** down beats drain beats up. */
function worst(...statuses: Status[]): Status {
  if (statuses.includes('down')) return 'down';
  if (statuses.includes('drain')) return 'drain';
  return 'up';
}

/**
 * Turns a validated document into the router's precomputed form. Assumes `validateZoneMap`
 * passed: names resolve and every shard has exactly one owner.
 */
export function compileZoneMap(doc: ZoneMapDoc): CompiledZoneMap {
  const width = shardWidth(doc.shards);

  const cities = new Map<string, CompiledCity>();
  const cityOfIdc = new Map<string, string>();
  for (const [name, c] of Object.entries(doc.cities)) {
    cities.set(name, Object.freeze({ name, status: c.status, idcs: Object.freeze([...c.idcs]) }));
    for (const idc of c.idcs) cityOfIdc.set(idc, name);
  }

  const idcs = new Map<string, CompiledIdc>();
  for (const [idc, city] of cityOfIdc) {
    const d = doc.idcs?.[idc];
    const status = d?.status ?? 'up';
    const cityStatus = cities.get(city)?.status ?? 'up';
    idcs.set(
      idc,
      Object.freeze({
        name: idc,
        city,
        status,
        effectiveStatus: worst(status, cityStatus),
        gateways: Object.freeze([...(d?.gateways ?? [])]),
      }),
    );
  }

  const names = Object.keys(doc.zones);
  const zoneIndex = new Map<string, number>(names.map((n, i) => [n, i]));
  const shardOwner = new Int32Array(doc.shards).fill(-1);

  // First pass: everything but `serving`, which needs every zone's liveness.
  const partial = names.map((name, index) => {
    const z = doc.zones[name]!;
    const idc = idcs.get(z.idc);
    const status = z.status ?? 'up';
    const effectiveStatus = worst(status, idc?.effectiveStatus ?? 'down');
    const shards = z.kind === 'rzone' ? uniqueSorted(parseShardSpecs(z.shards ?? [], doc.shards).shards) : [];
    for (const s of shards) shardOwner[s] = index;
    return {
      index,
      name,
      kind: z.kind,
      idc: z.idc,
      city: idc?.city ?? '',
      status,
      effectiveStatus,
      live: effectiveStatus === 'up',
      weight: z.weight ?? (z.kind === 'rzone' ? DEFAULT_RZONE_WEIGHT : 0),
      failover: Object.freeze((z.failover ?? []).map((f) => zoneIndex.get(f) ?? -1).filter((i) => i >= 0)),
      upstreams: Object.freeze({
        http: Object.freeze({
          blue: Object.freeze([...(z.upstreams?.http?.blue ?? EMPTY)]),
          green: Object.freeze([...(z.upstreams?.http?.green ?? EMPTY)]),
        }),
        mqtt: Object.freeze([...(z.upstreams?.mqtt ?? EMPTY)]),
      }),
      release: compileRelease(doc, z.release),
      shards: Object.freeze(shards),
    };
  });

  const zones: CompiledZone[] = partial.map((z) => {
    // docs/design.md: the first live zone of the zone's own failover list; no recursion.
    const serving = z.live ? z.index : (z.failover.find((i) => partial[i]?.live === true) ?? -1);
    return Object.freeze({
      ...z,
      serving,
      failoverReason:
        serving >= 0 && serving !== z.index ? `failover:${z.name}->${partial[serving]!.name}` : null,
    });
  });

  const czoneByCity = new Map<string, number>();
  let gzone = -1;
  for (const z of zones) {
    if (z.kind === 'gzone') gzone = z.index;
    if (z.kind === 'czone') czoneByCity.set(z.city, z.index);
  }

  const anonymous = zones.filter((z) => z.kind === 'rzone' && z.live && z.weight > 0);
  const anonymousByIdc = new Map<string, WeightedTable>();
  for (const idc of idcs.keys())
    anonymousByIdc.set(idc, weightedTable(anonymous.filter((z) => z.idc === idc)));
  const anonymousByCity = new Map<string, WeightedTable>();
  for (const city of cities.keys()) {
    anonymousByCity.set(city, weightedTable(anonymous.filter((z) => z.city === city)));
  }

  return Object.freeze({
    version: doc.version,
    shards: doc.shards,
    shardWidth: width,
    doc,
    zones: Object.freeze(zones),
    zoneIndex,
    shardOwner,
    idcs,
    cities,
    gzone,
    czoneByCity,
    routes: Object.freeze(
      (doc.routes ?? []).map((r) => Object.freeze({ pathPrefix: r.pathPrefix, kind: r.kind })),
    ),
    anonymousByIdc,
    anonymousByCity,
    anonymousAll: weightedTable(anonymous),
  });
}

function compileRelease(doc: ZoneMapDoc, r: ZoneMapDoc['zones'][string]['release']): CompiledRelease {
  const greenShards = new Uint8Array(doc.shards);
  for (const s of parseShardSpecs(r?.greenShards ?? [], doc.shards).shards) greenShards[s] = 1;
  return Object.freeze({
    greenUids: new Set(r?.greenUids ?? []),
    greenShards,
    greenBasisPoints: Math.round((r?.green ?? 0) * 100),
  });
}

function weightedTable(zones: readonly CompiledZone[]): WeightedTable {
  const ids = new Int32Array(zones.length);
  const cumulative = new Float64Array(zones.length);
  let total = 0;
  zones.forEach((z, i) => {
    total += z.weight;
    ids[i] = z.index;
    cumulative[i] = total;
  });
  return Object.freeze({ zones: ids, cumulative, total });
}

function uniqueSorted(xs: number[]): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}
