import type { EventEmitter } from 'node:events';
import type { DocumentReadError, InvalidZoneMapError } from '../core/errors.js';
import type { CompiledZoneMap } from './model.js';

export interface ZoneMapSourceEvents {
  /** A new valid map. */
  map: [map: CompiledZoneMap];
  /** A map was refused; the last good one stays in force. */
  invalid: [error: InvalidZoneMapError | DocumentReadError];
  /** Transport trouble (file vanished, Redis down). Informational: the source keeps trying. */
  error: [error: Error];
}

/** Where a gateway's zone map comes from: a watched file, or Redis (src/zonemap/stores). */
export interface ZoneMapSource extends EventEmitter<ZoneMapSourceEvents> {
  /** Loads the first map; rejects when none can be had. */
  start(): Promise<CompiledZoneMap>;
  close(): Promise<void>;
  /**
   * The URL of this gateway's admin listener, once bound, for sources that report the
   * gateway to the store (drills read the gateway's metrics there).
   */
  advertiseAdmin?(url: string): void;
}
