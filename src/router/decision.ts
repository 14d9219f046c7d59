import type { Colour, ZoneKind } from '../zonemap/model.js';

/** Where the uid of a request or connection came from (docs/design.md "Identity order"). */
export type IdentitySource = 'header' | 'cookie' | 'cert' | 'mqtt-client-id' | 'mqtt-username' | 'none';

export interface Identity {
  /** null for anonymous traffic. */
  readonly uid: string | null;
  readonly source: IdentitySource;
}

/** This gateway: its IDC, and how it reaches zones in other IDCs. */
export interface Self {
  readonly idc: string;
  /** `direct`: straight to the zone's upstreams; `gateway`: through a peer gateway of that IDC when the map lists one. */
  readonly crossIdc: 'direct' | 'gateway';
}

/**
 * Machine-readable reason for a decision. Bounded set (safe as a metric label):
 * `uid-shard`, `cookie`, `anonymous-weighted`, `anonymous-city`, `anonymous-any`, `gzone`,
 * `czone`, `failover:<from>-><to>`, `no-live-zone`.
 */
export type Reason = string;

export type Via = 'local' | 'direct' | 'gateway';

export interface RoutedDecision {
  readonly ok: true;
  readonly zone: string;
  readonly zoneIndex: number;
  readonly colour: Colour;
  /** The chosen zone's IDC. */
  readonly idc: string;
  readonly via: Via;
  /** Peer gateways of the zone's IDC when via is `gateway`, else empty. */
  readonly gateways: readonly string[];
  readonly reason: Reason;
  /** The uid's shard, or -1 for anonymous / gzone / czone traffic without uid. */
  readonly shard: number;
  readonly kind: ZoneKind;
}

export interface UnroutedDecision {
  readonly ok: false;
  readonly zone: null;
  readonly reason: 'no-live-zone';
  /** Plain sentence for logs and the 503 body, e.g. "zone rz03 and its standbys rz04, rz07 are not live". */
  readonly detail: string;
  readonly shard: number;
  readonly kind: ZoneKind;
}

export type Decision = RoutedDecision | UnroutedDecision;
