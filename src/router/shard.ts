/**
 * shard(uid) per docs/design.md: a decimal uid → BigInt(uid) % shards (with 100 shards, its last
 * two digits); any other uid → FNV-1a 32-bit of its UTF-8 bytes % shards.
 *
 * The decimal case is computed digit by digit (Horner's rule mod `shards`), which equals
 * BigInt(uid) % shards for any length without allocating a BigInt: r*10+9 stays far below
 * 2^53 because shards ≤ 100000.
 */
export function shardOf(uid: string, shards: number): number {
  const n = uid.length;
  let r = 0;
  for (let i = 0; i < n; i++) {
    const d = uid.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return fnv1a32(uid) % shards;
    r = (r * 10 + d) % shards;
  }
  // The empty string is not decimal: hash it like any other non-decimal uid.
  return n === 0 ? fnv1a32(uid) % shards : r;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a 32-bit over the UTF-8 encoding of `s`, encoded inline to avoid a Buffer per call. */
export function fnv1a32(s: string): number {
  let h = FNV_OFFSET;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const lo = s.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          i++;
          h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
          h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV_PRIME);
          h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
          h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
          continue;
        }
      }
      // Lone surrogates encode as U+FFFD, as Buffer.from(s, 'utf8') does.
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return h >>> 0;
}
