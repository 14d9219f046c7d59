import { readFile } from 'node:fs/promises';
import { parseDocument as parseYaml, stringify } from 'yaml';
import { DocumentReadError, InvalidZoneMapError } from '../core/errors.js';
import { compileZoneMap } from './compile.js';
import type { CompiledZoneMap, ZoneMapDoc } from './model.js';
import { validateZoneMap } from './validate.js';

/** Zone maps and configs are small; anything larger is a mistake, not a map. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * Parses YAML or JSON (JSON is YAML 1.2). Duplicate keys are an error rather than "last one
 * wins", because a silently dropped zone is exactly the accident a map must not hide.
 */
export function parseDocument(text: string, sourceName: string): unknown {
  if (text.length > MAX_DOCUMENT_BYTES) {
    throw new DocumentReadError(`${sourceName}: larger than ${MAX_DOCUMENT_BYTES} bytes`);
  }
  const doc = parseYaml(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    const why = doc.errors.map((e) => e.message.split('\n')[0]).join('; ');
    throw new DocumentReadError(`${sourceName}: not valid YAML or JSON: ${why}`, doc.errors[0]);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    throw new DocumentReadError(`${sourceName}: ${(err as Error).message}`, err);
  }
}

/** Parse, validate and compile; throws InvalidZoneMapError listing every problem. */
export function loadZoneMapText(text: string, sourceName: string): CompiledZoneMap {
  const result = validateZoneMap(parseDocument(text, sourceName));
  if (!result.ok) throw new InvalidZoneMapError(result.problems, sourceName);
  return compileZoneMap(result.doc);
}

export async function readDocumentFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new DocumentReadError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      err,
    );
  }
}

export async function loadZoneMapFile(path: string): Promise<CompiledZoneMap> {
  return loadZoneMapText(await readDocumentFile(path), path);
}

export function serializeZoneMap(doc: ZoneMapDoc, format: 'yaml' | 'json'): string {
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc, { lineWidth: 0 });
}
