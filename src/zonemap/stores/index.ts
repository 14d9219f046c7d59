export {
  ZoneMapConflictError,
  ZoneMapNotFoundError,
  ZoneMapStoreUnavailableError,
  ZoneMapVersionNotFoundError,
} from './errors.js';
export { gatewayReportState, type GatewayReport, type GatewayReportState } from './gateway-report.js';
export type { HistoryEntry, HistoryWrite } from './history-entry.js';
export {
  REDIS_DEFAULTS,
  checkRedisStoreConfig,
  describeRedisStore,
  parseHostPortList,
  type RedisHostPort,
  type RedisStoreConfig,
} from '../../core/redis-config.js';
export { zoneMapKeys, DEFAULT_KEY_PREFIX, type ZoneMapKeys } from './redis-keys.js';
export {
  RedisZoneMapSource,
  type RedisZoneMapSourceOptions,
  type RedisZoneMapSourceStats,
} from './redis-source.js';
export { RedisZoneMapStore, HISTORY_MAX_ENTRIES } from './redis-store.js';
export {
  FILE_STORE_DEFAULTS,
  FileZoneMapStore,
  historyFileOf,
  type FileZoneMapStoreOptions,
} from './file-store.js';
export type { RawStoredMap, ZoneMapStore } from './store.js';
export { readSnapshot, writeSnapshot } from './snapshot.js';
export { decodeStoredMap } from './stored-map.js';
export { writeZoneMap } from './writer.js';
export { createZoneMapSource, DEFAULT_SNAPSHOT_FILE, type GatewayIdentity } from './create-source.js';
