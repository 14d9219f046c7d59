import type { ZoneMapDoc } from '../model.js';
import type { GatewayReport } from './gateway-report.js';
import type { HistoryEntry, HistoryWrite } from './history-entry.js';

/** The map exactly as stored, before any checks. */
export interface RawStoredMap {
  readonly version: string | null;
  readonly json: string | null;
}

/**
 * Where the shared zone map is kept, as the drill commands see it: a compare-and-set write
 * that also appends history, the history, and the gateways' reports. Redis is the store for
 * fleets; other stores implement the same contract so that every command, the drill runner
 * and the console share one code path. A store moves bytes: validation is the writer's job.
 */
export interface ZoneMapStore {
  /** For messages, e.g. `redis://127.0.0.1:6379 (prefix zonegate)`. */
  readonly description: string;
  readRaw(): Promise<RawStoredMap>;
  /**
   * Writes `doc` (whose version must be `expected + 1`, or ≥ 1 for the first write) if the
   * store still holds `expected`, and appends its history entry in the same step; else
   * throws ZoneMapConflictError naming both versions.
   */
  compareAndSet(doc: ZoneMapDoc, expected: number | null, meta: HistoryWrite): Promise<void>;
  /** Newest first. */
  history(limit: number): Promise<HistoryEntry[]>;
  /** The document as written at `version`, re-validated; ZoneMapVersionNotFoundError if gone. */
  historyDoc(version: number): Promise<{ entry: HistoryEntry; doc: ZoneMapDoc }>;
  /** What each gateway following this store last reported (empty where gateways do not report). */
  gateways(): Promise<GatewayReport[]>;
  forgetGateway(id: string): Promise<void>;
  close(): Promise<void>;
}
