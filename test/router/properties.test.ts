import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decide, shardOf, type Self } from '../../src/router/index.js';
import type { Status } from '../../src/zonemap/index.js';
import { exampleDoc, compile, seededRandom } from '../helpers/maps.js';

const STATUS = fc.constantFrom<Status>('up', 'up', 'drain', 'down');
const ZONES = ['rz00', 'rz01', 'rz02', 'rz03', 'rz04', 'rz05', 'rz06', 'rz07', 'rz08', 'rz09'];
const IDCS = ['hz-1', 'hz-2', 'sh-1', 'sh-2', 'sz-1'];
const CITIES = ['hz', 'sh', 'sz'];

/** Random liveness over the example map: any zone, IDC or city may be up, draining or down. */
const arbitraryMap = fc
  .record({
    zones: fc.array(STATUS, { minLength: 10, maxLength: 10 }),
    idcs: fc.array(STATUS, { minLength: 5, maxLength: 5 }),
    cities: fc.array(STATUS, { minLength: 3, maxLength: 3 }),
    green: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 10, maxLength: 10 }),
  })
  .map((s) => {
    const doc = exampleDoc();
    ZONES.forEach((z, i) => {
      doc.zones[z]!.status = s.zones[i]!;
      doc.zones[z]!.release = { green: s.green[i]! };
    });
    IDCS.forEach((idc, i) => (doc.idcs![idc]!.status = s.idcs[i]!));
    CITIES.forEach((c, i) => (doc.cities[c]!.status = s.cities[i]!));
    return compile(doc);
  });

const uid = fc.oneof(fc.stringMatching(/^[0-9]{1,20}$/), fc.string({ minLength: 1, maxLength: 24 }));
const self = fc.constantFrom(...IDCS).map((idc): Self => ({ idc, crossIdc: 'gateway' }));

describe('router properties', () => {
  it('a uid whose zone or one of its standbys is live always gets a live zone', () => {
    fc.assert(
      fc.property(arbitraryMap, uid, self, (map, u, me) => {
        const owner = map.zones[map.shardOwner[shardOf(u, map.shards)]!]!;
        const anyLive = owner.live || owner.failover.some((i) => map.zones[i]!.live);
        const d = decide({ uid: u, source: 'header' }, 'rzone', map, me);
        assert.equal(d.ok, anyLive);
        if (d.ok) {
          assert.ok(map.zones[d.zoneIndex]!.live, `${d.zone} is not live`);
          // ... and it is the owner or the FIRST live standby, never a later one.
          const expected = owner.live ? owner : map.zones[owner.failover.find((i) => map.zones[i]!.live)!]!;
          assert.equal(d.zone, expected.name);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the same uid always gets the same zone and colour under one map', () => {
    fc.assert(
      fc.property(arbitraryMap, uid, self, (map, u, me) => {
        const a = decide({ uid: u, source: 'header' }, 'rzone', map, me, seededRandom(1));
        const b = decide({ uid: u, source: 'header' }, 'rzone', map, me, seededRandom(99));
        assert.deepEqual(a, b);
      }),
      { numRuns: 3000 },
    );
  });

  it('a down city moves each of its shards outside it, or reports no live zone for exactly those without one', () => {
    fc.assert(
      fc.property(arbitraryMap, fc.constantFrom(...CITIES), (base, city) => {
        const doc = structuredClone(base.doc) as ReturnType<typeof exampleDoc>;
        doc.cities[city]!.status = 'down';
        const map = compile(doc);
        for (let shard = 0; shard < map.shards; shard++) {
          const owner = map.zones[map.shardOwner[shard]!]!;
          const d = decide({ uid: String(shard), source: 'header' }, 'rzone', map, {
            idc: 'hz-1',
            crossIdc: 'direct',
          });
          const standby = owner.failover.map((i) => map.zones[i]!).find((z) => z.live);
          if (owner.city === city) {
            if (standby === undefined) assert.equal(d.ok, false, `shard ${shard} should have no live zone`);
            else {
              assert.ok(d.ok);
              assert.notEqual(map.zones[d.zoneIndex]!.city, city, `shard ${shard} stayed in ${city}`);
            }
          }
          if (d.ok) assert.notEqual(map.zones[d.zoneIndex]!.city, city);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('anonymous weighting', () => {
  // Chi-square goodness of fit: 100k draws against the zones' weights. With k-1 degrees of
  // freedom the 99.9% critical values are 10.83 (1), 13.82 (2), 16.27 (3), 18.47 (4).
  const CRITICAL = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88];

  function chiSquare(weights: Record<string, number>, idc: string, seed: number): number {
    const map = compile(
      (() => {
        const doc = exampleDoc();
        for (const [z, w] of Object.entries(weights)) doc.zones[z]!.weight = w;
        return doc;
      })(),
    );
    const counts = new Map<string, number>();
    const rnd = seededRandom(seed);
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const d = decide({ uid: null, source: 'none' }, 'rzone', map, { idc, crossIdc: 'direct' }, rnd);
      assert.ok(d.ok);
      counts.set(d.zone, (counts.get(d.zone) ?? 0) + 1);
    }
    const live = Object.entries(weights).filter(([, w]) => w > 0);
    const total = live.reduce((s, [, w]) => s + w, 0);
    let chi = 0;
    for (const [z, w] of live) {
      const expected = (n * w) / total;
      chi += ((counts.get(z) ?? 0) - expected) ** 2 / expected;
    }
    for (const z of counts.keys()) assert.ok(weights[z]! > 0, `picked ${z} with weight 0`);
    return chi;
  }

  it('follows the weights within one IDC (100k draws)', () => {
    const chi = chiSquare({ rz00: 100, rz01: 50 }, 'hz-1', 11);
    assert.ok(chi < CRITICAL[1]!, `chi-square ${chi}`);
  });

  it('follows uneven weights across a whole city when the IDC has none (100k draws)', () => {
    const chi = chiSquare({ rz04: 0, rz05: 0, rz06: 10, rz07: 30 }, 'sh-1', 12);
    assert.ok(chi < CRITICAL[1]!, `chi-square ${chi}`);
  });

  it('detects a skewed picker (the test can fail)', () => {
    // Same draws judged against the wrong weights must exceed the critical value.
    const map = compile(exampleDoc());
    const rnd = seededRandom(13);
    let rz00 = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const d = decide({ uid: null, source: 'none' }, 'rzone', map, { idc: 'hz-1', crossIdc: 'direct' }, rnd);
      if (d.ok && d.zone === 'rz00') rz00++;
    }
    const wrong = ((rz00 - n / 2) ** 2 / (n / 2)) * 2; // pretend weights were 50/50
    assert.ok(wrong > CRITICAL[1]!, `the 100/50 split should not look like 50/50 (chi ${wrong})`);
  });
});
