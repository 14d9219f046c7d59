import { InvalidZoneMapError } from '../../core/errors.js';
import { compileZoneMap } from '../compile.js';
import type { CompiledZoneMap, ZoneMapDoc } from '../model.js';
import { validateZoneMap } from '../validate.js';
import type { HistoryWrite } from './history-entry.js';
import type { ZoneMapStore } from './store.js';

/**
 * Validates and compiles `doc` exactly as a gateway will, then writes it with a
 * compare-and-set against `expected`. Nothing a gateway would refuse ever reaches the store
 * through here. Returns the compiled map that was written.
 */
export async function writeZoneMap(
  store: ZoneMapStore,
  doc: ZoneMapDoc,
  expected: number | null,
  meta: HistoryWrite,
): Promise<CompiledZoneMap> {
  const checked = validateZoneMap(doc);
  if (!checked.ok) throw new InvalidZoneMapError(checked.problems, `zone map version ${doc.version}`);
  const compiled = compileZoneMap(checked.doc);
  await store.compareAndSet(checked.doc, expected, meta);
  return compiled;
}
