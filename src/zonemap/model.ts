/**
 * The zone map as SREs write it (docs/design.md "Zone map") and its compiled, hot-path form.
 */

export type ZoneKind = 'rzone' | 'gzone' | 'czone';
export type Status = 'up' | 'drain' | 'down';
export type Colour = 'blue' | 'green';

/** The document as written (after schema validation and defaults). */
export interface ZoneMapDoc {
  readonly version: number;
  readonly shards: number;
  readonly cities: Readonly<Record<string, CityDoc>>;
  readonly idcs?: Readonly<Record<string, IdcDoc>>;
  readonly zones: Readonly<Record<string, ZoneDoc>>;
  readonly routes?: readonly RouteDoc[];
}

export interface CityDoc {
  readonly status: Status;
  readonly idcs: readonly string[];
}

export interface IdcDoc {
  readonly status?: Status;
  /** Peer gateways of this IDC ("host:port") for cross-IDC forwarding. */
  readonly gateways?: readonly string[];
}

export interface ZoneDoc {
  readonly kind: ZoneKind;
  readonly idc: string;
  readonly shards?: readonly string[];
  readonly status?: Status;
  readonly weight?: number;
  readonly failover?: readonly string[];
  readonly upstreams?: UpstreamsDoc;
  readonly release?: ReleaseDoc;
}

export interface UpstreamsDoc {
  readonly http?: { readonly blue?: readonly string[]; readonly green?: readonly string[] };
  readonly mqtt?: readonly string[];
}

export interface ReleaseDoc {
  readonly greenUids?: readonly string[];
  readonly greenShards?: readonly string[];
  /** Percent (0-100) of the remaining users put on green, stable by uid hash. */
  readonly green?: number;
}

export interface RouteDoc {
  readonly pathPrefix: string;
  readonly kind: ZoneKind;
}

/* ------------------------------------------------------------------------------------------
 * Compiled form: everything the router needs precomputed, so a decision is a few array reads.
 * ---------------------------------------------------------------------------------------- */

export interface CompiledRelease {
  readonly greenUids: ReadonlySet<string>;
  /** greenShards[shard] === 1 when that whole shard is on green. */
  readonly greenShards: Uint8Array;
  /** `green` percent in basis points (0..10000), compared with a stable uid hash. */
  readonly greenBasisPoints: number;
}

export interface CompiledZone {
  readonly index: number;
  readonly name: string;
  readonly kind: ZoneKind;
  readonly idc: string;
  readonly city: string;
  /** The zone's own status field. */
  readonly status: Status;
  /** Worst of zone, IDC and city status: `down` beats `drain` beats `up`. */
  readonly effectiveStatus: Status;
  /** Zone, IDC and city are all `up`. */
  readonly live: boolean;
  readonly weight: number;
  /** Standby zone indexes, in order. */
  readonly failover: readonly number[];
  /**
   * Index of the zone that serves this zone's traffic now: itself when live, else the first
   * live standby of its own failover list (no recursion), else -1 (no live zone).
   */
  readonly serving: number;
  /** `failover:<this>-><serving>` when serving is a standby; precomputed to keep decisions allocation-free. */
  readonly failoverReason: string | null;
  readonly upstreams: {
    readonly http: { readonly blue: readonly string[]; readonly green: readonly string[] };
    readonly mqtt: readonly string[];
  };
  readonly release: CompiledRelease;
  /** The shards this zone owns, ascending. */
  readonly shards: readonly number[];
}

export interface CompiledIdc {
  readonly name: string;
  readonly city: string;
  readonly status: Status;
  /** Worst of IDC and city status. */
  readonly effectiveStatus: Status;
  readonly gateways: readonly string[];
}

export interface CompiledCity {
  readonly name: string;
  readonly status: Status;
  readonly idcs: readonly string[];
}

/** A weighted pick table over live RZones with weight > 0. */
export interface WeightedTable {
  readonly zones: Int32Array;
  /** Running sum of weights; the last entry is the total. */
  readonly cumulative: Float64Array;
  readonly total: number;
}

export interface CompiledRoute {
  readonly pathPrefix: string;
  readonly kind: ZoneKind;
}

export interface CompiledZoneMap {
  readonly version: number;
  readonly shards: number;
  /** Digits of `shards - 1`: shard names are zero-padded to this width. */
  readonly shardWidth: number;
  /** The validated source document (frozen). */
  readonly doc: ZoneMapDoc;
  readonly zones: readonly CompiledZone[];
  readonly zoneIndex: ReadonlyMap<string, number>;
  /** shardOwner[shard] = index of the owning RZone. */
  readonly shardOwner: Int32Array;
  readonly idcs: ReadonlyMap<string, CompiledIdc>;
  readonly cities: ReadonlyMap<string, CompiledCity>;
  /** Index of the one GZone. */
  readonly gzone: number;
  /** City name -> index of that city's CZone. */
  readonly czoneByCity: ReadonlyMap<string, number>;
  readonly routes: readonly CompiledRoute[];
  /** Anonymous traffic: pick tables by IDC, by city, and over every live RZone. */
  readonly anonymousByIdc: ReadonlyMap<string, WeightedTable>;
  readonly anonymousByCity: ReadonlyMap<string, WeightedTable>;
  readonly anonymousAll: WeightedTable;
}
