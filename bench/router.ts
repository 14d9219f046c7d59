/**
 * Router throughput on the example three-site five-center map, one core:
 *   npx tsx bench/router.ts [--seconds 1] [--rounds 5]
 * Prints decisions/s (median of rounds) for uid, cookie and anonymous decisions, next to a
 * straightforward router (BigInt shard, Map lookups, failover walked per request) measured in
 * the same run, and the time to validate + compile a 10,000-shard map.
 */
import { parseArgs } from 'node:util';
import { CookieKeyring } from '../src/identity/cookie.js';
import { decide, type Identity, type Self } from '../src/router/index.js';
import {
  compileZoneMap,
  formatShardRanges,
  validateZoneMap,
  type CompiledZoneMap,
  type ZoneMapDoc,
} from '../src/zonemap/index.js';
import { exampleDoc, exampleMap } from '../test/helpers/maps.js';
import { median, table } from './table.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '1' }, rounds: { type: 'string', default: '5' } },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);

const map = exampleMap((d) => {
  d.zones.rz04!.status = 'down'; // a failover in the mix
  d.zones.rz00!.release = { greenUids: ['10000001'], greenShards: ['05'], green: 30 };
});
const self: Self = { idc: 'hz-1', crossIdc: 'gateway' };
const UIDS = Array.from({ length: 4096 }, (_, i) => String(20_000_000 + i * 7919));
const IDENTITIES: Identity[] = UIDS.map((uid) => ({ uid, source: 'header' }));
const COOKIE_IDS: Identity[] = UIDS.map((uid) => ({ uid, source: 'cookie' }));
const ANON: Identity = { uid: null, source: 'none' };

/** What a first implementation would do: BigInt per uid, names and Maps instead of tables. */
function naiveDecide(uid: string, m: CompiledZoneMap): string | null {
  const shard = /^[0-9]+$/.test(uid) ? Number(BigInt(uid) % BigInt(m.doc.shards)) : 0;
  const byName = new Map(Object.entries(m.doc.zones));
  for (const [name, z] of byName) {
    if (z.kind !== 'rzone') continue;
    for (const spec of z.shards ?? []) {
      const [a, b] = spec.split('-').map(Number) as [number, number | undefined];
      if (shard >= a && shard <= (b ?? a)) {
        const live = (n: string) => (byName.get(n)?.status ?? 'up') === 'up';
        if (live(name)) return name;
        return (z.failover ?? []).find(live) ?? null;
      }
    }
  }
  return null;
}

function rate(fn: (i: number) => unknown): number {
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const end = performance.now() + SECONDS * 1000;
    const t0 = performance.now();
    while (performance.now() < end) {
      for (let i = 0; i < 1024; i++) if (fn(n + i) !== null) sink++;
      n += 1024;
    }
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  if (sink < 0) console.log(sink);
  return median(rates);
}

async function cookieRate(): Promise<number> {
  const ring = await CookieKeyring.create([{ id: 'k1', secret: 'bench-secret-0123456789' }]);
  const cookies = await Promise.all(UIDS.slice(0, 256).map((uid) => ring.sign({ uid, zone: 'rz00' })));
  const now = Math.floor(Date.now() / 1000);
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    while (performance.now() < end) {
      // 64 in flight, as concurrent requests would be.
      await Promise.all(
        Array.from({ length: 64 }, async (_, i) => {
          const v = await ring.verify(cookies[(n + i) & 255]!, now, 86400);
          if (v.ok) decide({ uid: v.uid, source: 'cookie' }, 'rzone', map, self);
        }),
      );
      n += 64;
    }
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

function bigMapDoc(): ZoneMapDoc {
  const doc = exampleDoc();
  doc.shards = 10000;
  let i = 0;
  for (const z of Object.values(doc.zones)) {
    if (z.kind !== 'rzone') continue;
    const mine = Array.from({ length: 1000 }, (_, k) => i * 1000 + k).filter(
      (s) => s % 3 !== 0 || s % 1000 === 0,
    );
    const odd = Array.from({ length: 1000 }, (_, k) => i * 1000 + k).filter(
      (s) => s % 3 === 0 && s % 1000 !== 0,
    );
    z.shards = [...formatShardRanges(mine, 4), ...odd.map((s) => String(s).padStart(4, '0'))];
    i++;
  }
  return doc;
}

function compileTimes(): { validate: number; compile: number; shards: number } {
  const doc = bigMapDoc();
  const v: number[] = [];
  const c: number[] = [];
  for (let r = 0; r < Math.max(5, ROUNDS); r++) {
    const t0 = performance.now();
    const res = validateZoneMap(doc);
    const t1 = performance.now();
    if (!res.ok) throw new Error(JSON.stringify(res.problems.slice(0, 3)));
    compileZoneMap(res.doc);
    const t2 = performance.now();
    v.push(t1 - t0);
    c.push(t2 - t1);
  }
  return { validate: median(v), compile: median(c), shards: doc.shards };
}

const uid = rate((i) => decide(IDENTITIES[i & 4095]!, 'rzone', map, self));
const cookieDecide = rate((i) => decide(COOKIE_IDS[i & 4095]!, 'rzone', map, self));
const anon = rate(() => decide(ANON, 'rzone', map, self));
const gz = rate((i) => decide(IDENTITIES[i & 4095]!, 'gzone', map, self));
const naive = rate((i) => naiveDecide(UIDS[i & 4095]!, map));
const cookieFull = await cookieRate();
const t = compileTimes();

console.log(
  `\n## Router (bench/router.ts) — node ${process.version}, ${ROUNDS} rounds x ${SECONDS}s, median\n`,
);
console.log(
  table(
    ['decision', 'zonegate decisions/s', 'naive router decisions/s', 'ratio'],
    [
      ['uid (x-ldc-uid)', uid, naive, `${(uid / naive).toFixed(1)}x`],
      ['cookie uid (already verified)', cookieDecide, '', ''],
      ['cookie: WebCrypto HMAC verify + decide', cookieFull, '', ''],
      ['anonymous (weighted random)', anon, '', ''],
      ['gzone route', gz, '', ''],
    ],
  ),
);
console.log(
  `\n${table(
    ['10,000-shard map', 'median ms'],
    [
      ['validate (schema + semantic)', t.validate],
      ['compile', t.compile],
    ],
  )}`,
);
console.log(
  `\ntarget: >= 2,000,000 uid decisions/s: ${uid >= 2e6 ? 'met' : 'NOT met'}; compile < 50 ms: ${t.compile < 50 ? 'met' : 'NOT met'}`,
);
