/**
 * Random bytes for ids made on the hot path (request ids, trace and span ids), from one pooled
 * buffer refilled from the CSPRNG 12 KiB at a time: a randomBytes() call per id is a
 * syscall-sized cost, and Node's randomUUID() builds its string from twenty pieces.
 */
import { randomFillSync } from 'node:crypto';

/** The pool; read what randomAt() hands out before the next call. */
export const RANDOM_POOL = Buffer.alloc(12 * 1024);
let offset = RANDOM_POOL.length;

/** `n` (at most the pool's size) unused random bytes: their offset in RANDOM_POOL. */
export function randomAt(n: number): number {
  if (offset + n > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}
