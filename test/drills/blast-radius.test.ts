import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  blastRadius,
  guardRailViolations,
  moveShards,
  setCityStatus,
  setRelease,
  setZoneStatus,
} from '../../src/drill/index.js';
import type { ZoneMapDoc } from '../../src/zonemap/index.js';
import { compile, exampleDoc, exampleMap } from '../helpers/maps.js';

const base = (): ZoneMapDoc => exampleDoc();

describe('blast radius and guard rails of a drill', () => {
  it('names the zones that lose their last live standby, even when no shard moves', () => {
    const prev = exampleMap((d) => (d.zones['rz07']!.status = 'down'));
    // rz03 fails over to [rz01, rz07]: with rz07 already down, taking rz01 down leaves it none.
    const next = compile(setZoneStatus(prev.doc, 'rz01', 'down'));
    const r = blastRadius(prev, next);
    assert.ok(r.lostLastStandby.includes('rz03'));
    assert.deepEqual(
      r.moves.map((m) => [m.shards.join(','), m.from, m.to]),
      [['10-19', 'rz01', 'rz03']],
    );
    assert.deepEqual(guardRailViolations(r, { maxMovePercent: 25 }), []);
  });

  it('refuses a city going down: too many shards at once, and zones left with no live zone', () => {
    const prev = compile(base());
    const r = blastRadius(prev, compile(setCityStatus(prev.doc, 'hz', 'down')));
    assert.equal(r.movedShards, 40);
    const v = guardRailViolations(r, { maxMovePercent: 25 });
    assert.ok(v.some((x) => /40 of 100 shards \(40\.0%\)/.test(x)));
    assert.ok(v.some((x) => /zone gz00 would have no live zone/.test(x)));
    assert.ok(guardRailViolations(r, { maxMovePercent: 50 }).every((x) => !/shards \(/.test(x)));
  });

  it('refuses shards left with no live zone', () => {
    const prev = exampleMap((d) => {
      d.zones['rz01']!.status = 'down';
      d.zones['rz07']!.status = 'down';
    });
    const r = blastRadius(prev, compile(setZoneStatus(prev.doc, 'rz03', 'down')));
    assert.deepEqual(r.newlyUnservedShards, ['30-39']);
    assert.match(
      guardRailViolations(r, { maxMovePercent: 100 })[0] ?? '',
      /shards 30-39 would have no live zone/,
    );
  });

  it('counts the users whose colour changes by the stable hash share', () => {
    const prev = compile(base());
    // rz00 owns 10 shards at green 10%: going to 40% moves 30% of them, 3 shards' worth.
    const next = compile(setRelease(prev.doc, 'rz00', { green: 40, greenShards: ['05'] }));
    const [shift] = blastRadius(prev, next).colour;
    assert.equal(shift?.zone, 'rz00');
    // Shard 05 goes all green (0.9 more), the other 9 shards 0.3 each: 2.7 + 0.9 = 3.6.
    assert.ok(Math.abs((shift?.toGreenShards ?? 0) - 3.6) < 1e-9);
    assert.equal(shift?.toBlueShards, 0);
  });

  it('moves shards between RZones only, keeping ranges compact', () => {
    const moved = moveShards(base(), ['05-09', '15'], 'rz02');
    assert.deepEqual(moved.zones['rz00']?.shards, ['00-04']);
    assert.deepEqual(moved.zones['rz01']?.shards, ['10-14', '16-19']);
    assert.deepEqual(moved.zones['rz02']?.shards, ['05-09', '15', '20-29']);
    assert.throws(() => moveShards(base(), ['00'], 'cz-hz'), { code: 'ZG_ERR_USAGE' });
    assert.throws(() => moveShards(base(), ['100'], 'rz02'), /out of range/);
  });
});
