import { DocumentReadError, InvalidZoneMapError } from '../../core/errors.js';
import type { ZoneMapDoc } from '../model.js';
import { validateZoneMap } from '../validate.js';

/**
 * Turns what the store holds into a validated document. Anything written around the CLI
 * (by hand with redis-cli, by an old tool) goes through the same checks as a file, and the
 * hash's `version` field must agree with the document's own.
 */
export function decodeStoredMap(version: string | null, json: string, source: string): ZoneMapDoc {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new DocumentReadError(`${source}: the stored map is not JSON (${(err as Error).message})`, err);
  }
  const result = validateZoneMap(parsed);
  if (!result.ok) throw new InvalidZoneMapError(result.problems, source);
  if (version !== null && String(result.doc.version) !== version) {
    throw new InvalidZoneMapError(
      [
        {
          path: 'version',
          message: `is ${result.doc.version} but the store's version field says ${version}`,
        },
      ],
      source,
    );
  }
  return result.doc;
}
