/**
 * What the console server sends to the page (GET /api/state, the SSE `state` event, the dry
 * run). Plain data, no Node types: the page imports these types too. Nothing here may carry a
 * secret: no cookie keys (the console never reads them), no store credentials (the store
 * description is password-free), no tokens.
 */
import type { Status, ZoneKind } from '../zonemap/model.js';
import type { GatewayReportState } from '../zonemap/stores/gateway-report.js';
import type { HistoryEntry } from '../zonemap/stores/history-entry.js';

export interface CityView {
  readonly name: string;
  readonly status: Status;
  readonly idcs: readonly IdcView[];
}

export interface IdcView {
  readonly name: string;
  readonly status: Status;
  /** Worst of IDC and city status. */
  readonly effectiveStatus: Status;
  readonly zones: readonly string[];
}

export interface ZoneView {
  readonly name: string;
  readonly kind: ZoneKind;
  readonly idc: string;
  readonly city: string;
  readonly status: Status;
  readonly effectiveStatus: Status;
  readonly live: boolean;
  readonly weight: number;
  readonly standbys: readonly string[];
  /** The zone serving this zone's traffic now (itself or a standby), null when none is live. */
  readonly servedBy: string | null;
  /** Owned shard ranges (RZones). */
  readonly shards: readonly string[];
  readonly shardCount: number;
  /** Share of this zone's users on green, in percent (whole green shards and `green` together). */
  readonly greenPercent: number;
  readonly greenShards: readonly string[];
  readonly greenUidCount: number;
}

export interface MapView {
  readonly version: number;
  readonly shards: number;
  readonly shardWidth: number;
  readonly cities: readonly CityView[];
  readonly zones: readonly ZoneView[];
  /** owner[shard] = name of the RZone owning it. */
  readonly owner: readonly string[];
  /** serving[shard] = name of the zone serving it now, null when no live zone does. */
  readonly serving: readonly (string | null)[];
}

export type GatewayState = GatewayReportState;

export interface GatewayView {
  readonly id: string;
  readonly idc: string;
  readonly version: number;
  readonly state: GatewayState;
  /** Versions behind the store (0 when current or ahead). */
  readonly lag: number;
  /** Time since its last report, ms. */
  readonly ageMs: number;
  readonly appliedAt: string;
  readonly from: string;
}

export interface ZoneStats {
  readonly zone: string;
  /** HTTP requests per second over the last scrape interval, summed over the fleet. */
  readonly rps: number;
  /** Share of those requests answered 5xx (0..1); null without traffic. */
  readonly errorRatio: number | null;
  /** 99th percentile of the gateway's request duration, ms (histogram bucket bound); null without traffic. */
  readonly p99Ms: number | null;
  readonly mqttSessions: number;
}

export interface ScrapeView {
  readonly url: string;
  readonly ok: boolean;
  /** Version the gateway's metrics report (`zonegate_zonemap_version`), when scraped. */
  readonly version: number | null;
  readonly error: string | null;
}

/** One history entry (src/zonemap/stores/history-entry.ts) with its diff. */
export interface HistoryView extends HistoryEntry {
  /** What this write changed compared with the version it replaced, one line each. */
  readonly changes: readonly string[];
}

export interface ConsoleState {
  /** Where the map is kept, password-free, e.g. `redis://127.0.0.1:6379 (prefix zonegate)`. */
  readonly store: string;
  readonly version: number | null;
  /** Why the stored map cannot be shown (invalid, store down), else null. */
  readonly problem: string | null;
  readonly at: string;
  readonly map: MapView | null;
  readonly gateways: readonly GatewayView[];
  readonly scrapes: readonly ScrapeView[];
  readonly stats: readonly ZoneStats[];
  readonly history: readonly HistoryView[];
}

/** One drill change as the page asks for it; the server turns it into the CLI's change plan. */
export type ConsoleAction =
  | {
      readonly kind: 'status';
      readonly noun: 'zone' | 'idc' | 'city';
      readonly name: string;
      readonly status: Status;
    }
  | { readonly kind: 'weight'; readonly zone: string; readonly weight: string }
  | { readonly kind: 'shards'; readonly shards: string; readonly to: string }
  | {
      readonly kind: 'release';
      readonly zone: string;
      readonly green?: string;
      readonly greenShards?: string;
      readonly greenUids?: string;
    }
  | { readonly kind: 'rollback'; readonly version: number };

export interface ShardMoveView {
  readonly shards: readonly string[];
  readonly from: string | null;
  readonly to: string | null;
  readonly count: number;
}

/** The dry run of one action: what the CLI prints with --dry-run, as data. */
export interface DryRunView {
  readonly action: string;
  /** The compare-and-set base; applying sends it back so a store that moved is a conflict. */
  readonly expected: number | null;
  readonly nextVersion: number;
  readonly changes: readonly string[];
  readonly moves: readonly ShardMoveView[];
  readonly movedShards: number;
  readonly shards: number;
  readonly colour: readonly string[];
  readonly lostLastStandby: readonly string[];
  readonly unserved: readonly string[];
  readonly violations: readonly string[];
  readonly noop: boolean;
  readonly refused: boolean;
  /** The CLI's own dry-run text, line by line. */
  readonly lines: readonly string[];
}

export interface ApplyResult {
  readonly version: number;
  readonly previous: number | null;
  readonly who: string;
  readonly action: string;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}
