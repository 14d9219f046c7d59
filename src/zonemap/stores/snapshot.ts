import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DocumentReadError } from '../../core/errors.js';
import type { ZoneMapDoc } from '../model.js';
import { decodeStoredMap } from './stored-map.js';

/**
 * The last-known-good map on local disk. Written after every map a gateway accepts, read
 * only at start when the store cannot answer, so a gateway restarted during a Redis outage
 * still routes by the map every other gateway is using.
 */
export async function writeSnapshot(path: string, doc: ZoneMapDoc): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Write then rename: a crash mid-write must never leave a half file as the only fallback.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, path);
}

/** The snapshot's document, validated; null when there is no snapshot file. */
export async function readSnapshot(path: string): Promise<ZoneMapDoc | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DocumentReadError(`cannot read zone map snapshot ${path}: ${(err as Error).message}`, err);
  }
  return decodeStoredMap(null, text, `zone map snapshot ${path}`);
}
