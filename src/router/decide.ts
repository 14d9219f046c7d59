import type { CompiledZoneMap, WeightedTable, ZoneKind } from '../zonemap/model.js';
import { colourOf } from './colour.js';
import type { Decision, Identity, Self, UnroutedDecision, Via } from './decision.js';
import { shardOf } from './shard.js';

const NO_GATEWAYS: readonly string[] = Object.freeze([]);

/**
 * The LDC routing decision: a pure function of (identity, route kind, compiled map, this
 * gateway, random source). `hopped` is true when the request already crossed an IDC
 * through a peer gateway (`x-ldc-hop`): it is then never sent through another one.
 */
export function decide(
  identity: Identity,
  kind: ZoneKind,
  map: CompiledZoneMap,
  self: Self,
  random: () => number = Math.random,
  hopped = false,
): Decision {
  const uid = identity.uid;
  const shard = uid === null ? -1 : shardOf(uid, map.shards);
  let wanted: number;
  let reason: string;

  if (kind === 'gzone') {
    wanted = map.gzone;
    reason = 'gzone';
  } else if (kind === 'czone') {
    const city = map.idcs.get(self.idc)?.city;
    wanted = city === undefined ? -1 : (map.czoneByCity.get(city) ?? -1);
    if (wanted < 0) {
      return unrouted(kind, shard, `no czone serves the city of IDC ${self.idc}`);
    }
    reason = 'czone';
  } else if (uid !== null) {
    wanted = map.shardOwner[shard] ?? -1;
    reason = identity.source === 'cookie' ? 'cookie' : 'uid-shard';
  } else {
    // Anonymous: weighted among live RZones of this IDC, then this city, then anywhere.
    const city = map.idcs.get(self.idc)?.city;
    let table = map.anonymousByIdc.get(self.idc);
    reason = 'anonymous-weighted';
    if (table === undefined || table.total <= 0) {
      table = city === undefined ? undefined : map.anonymousByCity.get(city);
      reason = 'anonymous-city';
      if (table === undefined || table.total <= 0) {
        table = map.anonymousAll;
        reason = 'anonymous-any';
      }
    }
    if (table.total <= 0) return unrouted(kind, shard, 'no live rzone takes anonymous traffic');
    wanted = pick(table, random);
  }

  const zone = map.zones[wanted];
  if (zone === undefined) return unrouted(kind, shard, `shard ${shard} has no owner`);
  const serving = map.zones[zone.serving];
  if (serving === undefined) return unrouted(kind, shard, describeDead(map, wanted));
  if (zone.failoverReason !== null) reason = zone.failoverReason;

  let via: Via = 'local';
  let gateways = NO_GATEWAYS;
  if (serving.idc !== self.idc) {
    via = 'direct';
    if (!hopped && self.crossIdc === 'gateway') {
      const gws = map.idcs.get(serving.idc)?.gateways;
      if (gws !== undefined && gws.length > 0) {
        via = 'gateway';
        gateways = gws;
      }
    }
  }

  return {
    ok: true,
    zone: serving.name,
    zoneIndex: serving.index,
    colour: colourOf(serving, uid, shard, random),
    idc: serving.idc,
    via,
    gateways,
    reason,
    shard,
    kind,
  };
}

function pick(table: WeightedTable, random: () => number): number {
  const r = random() * table.total;
  const c = table.cumulative;
  let lo = 0;
  let hi = c.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r < (c[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return table.zones[lo] as number;
}

function unrouted(kind: ZoneKind, shard: number, detail: string): UnroutedDecision {
  return { ok: false, zone: null, reason: 'no-live-zone', detail, shard, kind };
}

function describeDead(map: CompiledZoneMap, index: number): string {
  const z = map.zones[index];
  if (z === undefined) return 'no zone';
  const standbys = z.failover.map((i) => map.zones[i]?.name ?? '?');
  return standbys.length === 0
    ? `zone ${z.name} is ${z.effectiveStatus} and has no standbys`
    : `zone ${z.name} and its standbys ${standbys.join(', ')} are not live`;
}
