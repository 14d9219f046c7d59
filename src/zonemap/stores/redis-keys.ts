/**
 * Key names of one zone map deployment. The `{prefix}` hash tag puts every key in the same
 * Redis Cluster slot, which the write script needs (a script may only touch keys of one slot).
 */
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

export const DEFAULT_KEY_PREFIX = 'zonegate';
const PREFIX_PATTERN = /^[A-Za-z0-9_.-]+$/;

export function isValidKeyPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

export function zoneMapKeys(prefix: string = DEFAULT_KEY_PREFIX): ZoneMapKeys {
  const tag = `{${prefix}}`;
  return {
    map: `${tag}:map`,
    history: `${tag}:history`,
    gateways: `${tag}:gateways`,
    channel: `${tag}:changed`,
  };
}
