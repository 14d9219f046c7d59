/**
 * Key names of one zone map deployment. The `{prefix}` hash tag puts every key in the same
 * Redis Cluster slot, which the write script needs (a script may only touch keys of one slot).
 */
import { DEFAULT_KEY_PREFIX, isValidKeyPrefix } from '../../core/redis-config.js';

export interface ZoneMapKeys {
  /** Hash: `version`, `json` (the whole document, version included). */
  readonly map: string;
  /** Stream: one entry per write (who, when, reason, version, summary, the map itself). */
  readonly history: string;
  /** Hash: gateway id → JSON report of the version it runs. */
  readonly gateways: string;
  /** Pub/sub channel: the new version number after each write. */
  readonly channel: string;
}

export { DEFAULT_KEY_PREFIX, isValidKeyPrefix };

export function zoneMapKeys(prefix: string = DEFAULT_KEY_PREFIX): ZoneMapKeys {
  const tag = `{${prefix}}`;
  return {
    map: `${tag}:map`,
    history: `${tag}:history`,
    gateways: `${tag}:gateways`,
    channel: `${tag}:changed`,
  };
}
