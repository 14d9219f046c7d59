/**
 * Shard numbers and their written form: zero-padded to the width of `shards - 1`
 * ("07" with 100 shards), single or as inclusive ranges ("00-19").
 */

export function shardWidth(shards: number): number {
  return String(Math.max(0, shards - 1)).length;
}

export function formatShard(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** [0,1,2,5,7,8] → ["00-02", "05", "07-08"] */
export function formatShardRanges(shards: readonly number[], width: number): string[] {
  const sorted = [...shards].sort((a, b) => a - b);
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && (sorted[i + 1] as number) <= end + 1) {
      i++;
      end = sorted[i] as number;
    }
    out.push(
      start === end ? formatShard(start, width) : `${formatShard(start, width)}-${formatShard(end, width)}`,
    );
    i++;
  }
  return out;
}

export interface ParsedShardSpecs {
  /** Every shard named, in the order given (duplicates kept, so callers can report them). */
  readonly shards: number[];
  /** One sentence per bad spec, prefixed by its index: `[1]: shard 120 is out of range 00-99`. */
  readonly problems: { index: number; message: string }[];
}

/** Parses specs like "07" and "00-19" against a map of `shards` shards. */
export function parseShardSpecs(specs: readonly string[], shards: number): ParsedShardSpecs {
  const width = shardWidth(shards);
  const range = `${formatShard(0, width)}-${formatShard(shards - 1, width)}`;
  const out: number[] = [];
  const problems: { index: number; message: string }[] = [];
  specs.forEach((spec, index) => {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(spec);
    if (m === null) {
      problems.push({ index, message: `"${spec}" is not a shard or a range of shards` });
      return;
    }
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start >= shards || end >= shards) {
      problems.push({ index, message: `shard ${Math.max(start, end)} is out of range ${range}` });
      return;
    }
    if (end < start) {
      problems.push({ index, message: `range "${spec}" ends before it starts` });
      return;
    }
    for (let s = start; s <= end; s++) out.push(s);
  });
  return { shards: out, problems };
}
