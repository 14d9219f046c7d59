export type * from './model.js';
export { validateZoneMap, type ZoneMapValidation } from './validate.js';
export { compileZoneMap } from './compile.js';
export {
  parseDocument,
  loadZoneMapText,
  loadZoneMapFile,
  readDocumentFile,
  serializeZoneMap,
  MAX_DOCUMENT_BYTES,
} from './load.js';
export { ZoneMapHolder, type ZoneMapHolderEvents } from './holder.js';
export type { ZoneMapSource, ZoneMapSourceEvents } from './source.js';
export { FileZoneMapSource, type FileZoneMapSourceOptions } from './file-source.js';
export { diffServing, type ServingMove } from './diff.js';
export { formatShard, formatShardRanges, parseShardSpecs, shardWidth } from './shards.js';
