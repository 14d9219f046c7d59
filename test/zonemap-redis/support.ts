import type { CompiledZoneMap, ZoneMapDoc } from '../../src/zonemap/index.js';
import {
  RedisZoneMapStore,
  writeZoneMap,
  type RedisStoreConfig,
  type RedisZoneMapSource,
} from '../../src/zonemap/stores/index.js';
import { exampleDoc, type MutableDoc } from '../helpers/maps.js';

/** The example map at `version`, with an optional edit. */
export function docAt(version: number, change?: (d: MutableDoc) => void): ZoneMapDoc {
  const d = exampleDoc();
  d.version = version;
  change?.(d);
  return d;
}

/** Writes through the real writer (validate, compare-and-set, history, publish). */
export async function write(
  cfg: RedisStoreConfig,
  doc: ZoneMapDoc,
  expected: number | null,
  action = 'test write',
): Promise<void> {
  const store = await RedisZoneMapStore.open(cfg, 'test');
  try {
    await writeZoneMap(store, doc, expected, { who: 'test@host', reason: 'test', action, summary: action });
  } finally {
    await store.close();
  }
}

/** Resolves with the first 'map' the source emits at `version`; rejects after timeoutMs. */
export function mapVersion(
  source: RedisZoneMapSource,
  version: number,
  timeoutMs = 20_000,
): Promise<CompiledZoneMap> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.off('map', onMap);
      reject(
        new Error(
          `source did not reach version ${version} within ${timeoutMs} ms (at ${source.map?.version})`,
        ),
      );
    }, timeoutMs);
    const onMap = (m: CompiledZoneMap): void => {
      if (m.version !== version) return;
      clearTimeout(timer);
      source.off('map', onMap);
      resolve(m);
    };
    if (source.map?.version === version) {
      clearTimeout(timer);
      resolve(source.map);
      return;
    }
    source.on('map', onMap);
  });
}

/** The zone serving a shard in a compiled map (after failover). */
export function servingZone(map: CompiledZoneMap, shard: number): string | null {
  const owner = map.zones[map.shardOwner[shard] ?? -1];
  return owner === undefined ? null : (map.zones[owner.serving]?.name ?? null);
}
