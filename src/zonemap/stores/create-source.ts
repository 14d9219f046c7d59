import type { ZoneMapSourceConfig } from '../../core/config.js';
import { FileZoneMapSource } from '../file-source.js';
import type { ZoneMapSource } from '../source.js';
import { RedisZoneMapSource } from './redis-source.js';

/** Where a gateway keeps its last-known-good map when the config names no snapshotFile. */
export const DEFAULT_SNAPSHOT_FILE = '.zonegate/zonemap-snapshot.json';

export interface GatewayIdentity {
  /** This gateway's IDC (config `idc`), reported to `map status`. */
  readonly idc: string;
  /** Unique per gateway process; `host:pid` by default. */
  readonly gatewayId?: string;
}

/**
 * The gateway's zone map source from its config's `zonemap` section: a watched file, or the
 * shared map in Redis (single, Sentinel or Cluster) with a local snapshot to start from
 * while Redis is down.
 */
export function createZoneMapSource(cfg: ZoneMapSourceConfig, self: GatewayIdentity): ZoneMapSource {
  if (cfg.redis !== undefined) {
    return new RedisZoneMapSource({
      redis: cfg.redis,
      idc: self.idc,
      snapshotFile: cfg.redis.snapshotFile ?? DEFAULT_SNAPSHOT_FILE,
      ...(self.gatewayId === undefined ? {} : { gatewayId: self.gatewayId }),
    });
  }
  if (cfg.file !== undefined) return new FileZoneMapSource({ path: cfg.file });
  // validateConfig already insists on exactly one of file / redis.
  throw new TypeError('zonemap: set exactly one of file or redis');
}
