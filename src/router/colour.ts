import type { Colour, CompiledZone } from '../zonemap/model.js';
import { fnv1a32 } from './shard.js';

/**
 * A uid's position in [0, 10000) for percentage releases. It must not follow the shard:
 * with decimal uids the shard is the uid's last digits, and `green: 30` must not mean
 * "shards 00-29". So we hash the uid and scramble it with murmur3's finaliser.
 */
export function colourBucket(uid: string): number {
  let h = fnv1a32(uid) ^ 0x9e3779b9;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % 10000;
}

/**
 * The user's colour in `zone` (docs/design.md "colour"): `greenUids`, then `greenShards`, then
 * `green` percent by a stable uid hash. Anonymous traffic (uid null) is green with
 * probability `green`%.
 */
export function colourOf(
  zone: CompiledZone,
  uid: string | null,
  shard: number,
  random: () => number,
): Colour {
  const r = zone.release;
  if (uid === null) {
    return r.greenBasisPoints > 0 && random() * 10000 < r.greenBasisPoints ? 'green' : 'blue';
  }
  if (r.greenUids.size > 0 && r.greenUids.has(uid)) return 'green';
  if (shard >= 0 && r.greenShards[shard] === 1) return 'green';
  if (r.greenBasisPoints === 0) return 'blue';
  return colourBucket(uid) < r.greenBasisPoints ? 'green' : 'blue';
}
