import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileZoneMap, validateZoneMap } from '../../src/zonemap/index.js';
import { exampleDoc } from '../helpers/maps.js';

/** Sets `value` at a random path inside a copy of the example map. */
function mutate(doc: unknown, path: readonly number[], value: unknown): unknown {
  const copy = structuredClone(doc);
  let node: unknown = copy;
  for (let i = 0; i < path.length; i++) {
    if (node === null || typeof node !== 'object') break;
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = keys[path[i]! % keys.length]!;
    if (i === path.length - 1) (node as Record<string, unknown>)[key] = value;
    else node = (node as Record<string, unknown>)[key];
  }
  return copy;
}

describe('zone map validation under fuzzing', () => {
  it('never throws on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.anything(), (x) => {
        const v = validateZoneMap(x);
        assert.equal(v.ok, false);
        if (!v.ok) assert.ok(v.problems.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('either refuses a mutated example map with reasons, or accepts one that compiles', () => {
    const base = exampleDoc();
    fc.assert(
      fc.property(
        fc.array(fc.nat(50), { minLength: 1, maxLength: 5 }),
        fc.oneof(fc.anything(), fc.constantFrom('up', 'down', 'rz01', '00-99', '7', -1, 0, 1e9, [], {})),
        (path, value) => {
          const v = validateZoneMap(mutate(base, path, value));
          if (v.ok) {
            const map = compileZoneMap(v.doc);
            for (const owner of map.shardOwner) assert.ok(owner >= 0 && map.zones[owner]!.kind === 'rzone');
          } else {
            for (const p of v.problems) assert.ok(p.message.length > 0);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
