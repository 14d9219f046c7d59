import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  compileZoneMap,
  validateZoneMap,
  type CompiledZoneMap,
  type ZoneMapDoc,
} from '../../src/zonemap/index.js';
import { formatProblem } from '../../src/core/errors.js';

export const EXAMPLE_MAP_PATH = fileURLToPath(
  new URL('../../policies/examples/three-site-five-center.yaml', import.meta.url),
);

/** Mutable deep copy of a zone map document. */
export type MutableDoc = { -readonly [K in keyof ZoneMapDoc]: MutableDeep<ZoneMapDoc[K]> };
type MutableDeep<T> = T extends readonly (infer U)[]
  ? MutableDeep<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: MutableDeep<T[K]> }
    : T;

/** A fresh, mutable copy of the example three-site five-center map. */
let exampleCache: MutableDoc | undefined;
export function exampleDoc(): MutableDoc {
  exampleCache ??= parse(readFileSync(EXAMPLE_MAP_PATH, 'utf8')) as MutableDoc;
  return structuredClone(exampleCache);
}

/** Validate and compile; a test helper, so an invalid map fails loudly with its problems. */
export function compile(doc: MutableDoc | ZoneMapDoc): CompiledZoneMap {
  const v = validateZoneMap(doc);
  if (!v.ok) throw new Error(`test map invalid:\n${v.problems.map(formatProblem).join('\n')}`);
  return compileZoneMap(v.doc);
}

export function exampleMap(change?: (doc: MutableDoc) => void): CompiledZoneMap {
  const doc = exampleDoc();
  change?.(doc);
  return compile(doc);
}

/** Deterministic PRNG (mulberry32) for reproducible "random" sources. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
