import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decide,
  type Decision,
  type Identity,
  type RoutedDecision,
  type Self,
} from '../../src/router/index.js';
import { exampleMap, seededRandom } from '../helpers/maps.js';

const HZ1: Self = { idc: 'hz-1', crossIdc: 'direct' };
const user = (uid: string): Identity => ({ uid, source: 'header' });
const anonymous: Identity = { uid: null, source: 'none' };

function routed(d: Decision): RoutedDecision {
  assert.equal(d.ok, true, `expected a routed decision, got ${JSON.stringify(d)}`);
  return d;
}

describe('decide: RZone by uid shard', () => {
  const map = exampleMap();

  it('sends a uid to the RZone that owns its shard', () => {
    const d = routed(decide(user('10000042'), 'rzone', map, HZ1));
    assert.deepEqual([d.zone, d.shard, d.reason, d.idc], ['rz04', 42, 'uid-shard', 'sh-1']);
  });

  it('reports reason "cookie" when the uid came from the zone cookie', () => {
    const d = routed(decide({ uid: '10000007', source: 'cookie' }, 'rzone', map, HZ1));
    assert.deepEqual([d.zone, d.reason], ['rz00', 'cookie']);
  });

  it('routes every shard to its owner', () => {
    for (let s = 0; s < 100; s++) {
      const d = routed(decide(user(String(1000 + s)), 'rzone', map, HZ1));
      assert.equal(d.zone, `rz0${Math.floor(s / 10)}`);
    }
  });

  it('hashes non-decimal uids', () => {
    const a = routed(decide(user('alice@example.com'), 'rzone', map, HZ1));
    const b = routed(decide(user('alice@example.com'), 'rzone', map, HZ1));
    assert.equal(a.zone, b.zone);
    assert.equal(a.zone, `rz0${Math.floor(a.shard / 10)}`);
  });
});

describe('decide: failover', () => {
  it('moves a down zone to its first live standby', () => {
    const map = exampleMap((m) => (m.zones.rz04!.status = 'down'));
    const d = routed(decide(user('42'), 'rzone', map, HZ1));
    assert.deepEqual([d.zone, d.reason], ['rz06', 'failover:rz04->rz06']);
  });

  it('moves a draining zone the same way', () => {
    const map = exampleMap((m) => (m.zones.rz04!.status = 'drain'));
    assert.equal(routed(decide(user('42'), 'rzone', map, HZ1)).zone, 'rz06');
  });

  it('skips a standby that is not live and takes the next one', () => {
    const map = exampleMap((m) => {
      m.zones.rz04!.status = 'down';
      m.zones.rz06!.status = 'drain';
    });
    const d = routed(decide(user('42'), 'rzone', map, HZ1));
    assert.deepEqual([d.zone, d.reason], ['rz00', 'failover:rz04->rz00']);
  });

  it("does not recurse into a standby's own failover list", () => {
    // rz04 -> [rz06, rz00]; rz06 -> [rz04, rz08]. With rz06 and rz00 dead, rz08 is NOT used.
    const map = exampleMap((m) => {
      m.zones.rz04!.status = 'down';
      m.zones.rz06!.status = 'down';
      m.zones.rz00!.status = 'down';
    });
    const d = decide(user('42'), 'rzone', map, HZ1);
    assert.equal(d.ok, false);
    assert.equal(d.reason, 'no-live-zone');
    assert.match((d as { detail: string }).detail, /rz04 and its standbys rz06, rz00 are not live/);
  });

  it('treats a zone in a down IDC as not live', () => {
    const map = exampleMap((m) => (m.idcs!['sh-1'] = { status: 'down' }));
    assert.equal(routed(decide(user('42'), 'rzone', map, HZ1)).zone, 'rz06');
    assert.equal(routed(decide(user('52'), 'rzone', map, HZ1)).zone, 'rz07');
  });

  it('moves a down city outside the city', () => {
    const map = exampleMap((m) => (m.cities.sh!.status = 'down'));
    assert.equal(routed(decide(user('42'), 'rzone', map, HZ1)).zone, 'rz00');
    assert.equal(routed(decide(user('62'), 'rzone', map, HZ1)).zone, 'rz08');
  });

  it('reports no live zone for a zone without standbys', () => {
    const map = exampleMap((m) => {
      m.zones.rz04!.status = 'down';
      m.zones.rz04!.failover = [];
    });
    const d = decide(user('42'), 'rzone', map, HZ1);
    assert.deepEqual([d.ok, d.reason, d.shard], [false, 'no-live-zone', 42]);
    assert.match((d as { detail: string }).detail, /rz04 is down and has no standbys/);
  });
});

describe('decide: anonymous traffic', () => {
  it("picks a live RZone of the gateway's own IDC", () => {
    const map = exampleMap();
    const rnd = seededRandom(1);
    for (let i = 0; i < 200; i++) {
      const d = routed(decide(anonymous, 'rzone', map, HZ1, rnd));
      assert.ok(['rz00', 'rz01'].includes(d.zone));
      assert.deepEqual([d.reason, d.via, d.shard], ['anonymous-weighted', 'local', -1]);
    }
  });

  it('never picks a zone with weight 0 or a zone that is not live', () => {
    const map = exampleMap((m) => {
      m.zones.rz00!.weight = 0;
      m.zones.rz02!.status = 'drain';
    });
    const rnd = seededRandom(2);
    for (let i = 0; i < 500; i++)
      assert.equal(routed(decide(anonymous, 'rzone', map, HZ1, rnd)).zone, 'rz01');
    for (let i = 0; i < 500; i++) {
      assert.equal(
        routed(decide(anonymous, 'rzone', map, { idc: 'hz-2', crossIdc: 'direct' }, rnd)).zone,
        'rz03',
      );
    }
  });

  it('falls back to the city, then anywhere', () => {
    const cityOnly = exampleMap((m) => (m.idcs!['hz-1'] = { status: 'down' }));
    const d1 = routed(decide(anonymous, 'rzone', cityOnly, HZ1, seededRandom(3)));
    assert.ok(['rz02', 'rz03'].includes(d1.zone));
    assert.equal(d1.reason, 'anonymous-city');

    const anywhere = exampleMap((m) => (m.cities.hz!.status = 'drain'));
    const d2 = routed(decide(anonymous, 'rzone', anywhere, HZ1, seededRandom(4)));
    assert.ok(!['rz00', 'rz01', 'rz02', 'rz03'].includes(d2.zone));
    assert.equal(d2.reason, 'anonymous-any');
  });

  it('reports no live zone when no RZone takes anonymous traffic', () => {
    const map = exampleMap((m) => {
      for (const z of Object.values(m.zones)) z.weight = 0;
    });
    const d = decide(anonymous, 'rzone', map, HZ1);
    assert.deepEqual([d.ok, d.reason], [false, 'no-live-zone']);
  });

  it('an unknown gateway IDC still routes anonymous traffic anywhere', () => {
    const d = routed(
      decide(anonymous, 'rzone', exampleMap(), { idc: 'nowhere', crossIdc: 'direct' }, seededRandom(5)),
    );
    assert.equal(d.reason, 'anonymous-any');
  });
});

describe('decide: GZone and CZone routes', () => {
  it('sends gzone routes to the one GZone whatever the uid', () => {
    const map = exampleMap();
    for (const id of [anonymous, user('42'), user('bob')]) {
      const d = routed(decide(id, 'gzone', map, HZ1));
      assert.deepEqual([d.zone, d.reason, d.kind], ['gz00', 'gzone', 'gzone']);
    }
  });

  it('reports no live zone when the GZone is down (it has no standby of its kind)', () => {
    const map = exampleMap((m) => (m.zones.gz00!.status = 'down'));
    assert.equal(decide(user('42'), 'gzone', map, HZ1).reason, 'no-live-zone');
  });

  it("sends czone routes to the CZone of the gateway's city", () => {
    const map = exampleMap();
    assert.equal(routed(decide(anonymous, 'czone', map, HZ1)).zone, 'cz-hz');
    assert.equal(routed(decide(anonymous, 'czone', map, { idc: 'sh-2', crossIdc: 'direct' })).zone, 'cz-sh');
    assert.equal(routed(decide(user('42'), 'czone', map, { idc: 'sz-1', crossIdc: 'direct' })).zone, 'cz-sz');
  });

  it("fails a city's CZone over to its standby", () => {
    const map = exampleMap((m) => (m.zones['cz-sz']!.status = 'down'));
    const d = routed(decide(anonymous, 'czone', map, { idc: 'sz-1', crossIdc: 'direct' }));
    assert.deepEqual([d.zone, d.reason], ['cz-hz', 'failover:cz-sz->cz-hz']);
  });

  it('reports no live zone for a city without a CZone', () => {
    const map = exampleMap((m) => {
      delete m.zones['cz-sz'];
    });
    const d = decide(anonymous, 'czone', map, { idc: 'sz-1', crossIdc: 'direct' });
    assert.deepEqual([d.ok, d.reason], [false, 'no-live-zone']);
  });
});

describe('decide: colour', () => {
  it('puts greenUids on green, then greenShards, then nobody at green 0', () => {
    const map = exampleMap((m) => {
      m.zones.rz00!.release = { greenUids: ['10000001'], greenShards: ['05'], green: 0 };
    });
    assert.equal(routed(decide(user('10000001'), 'rzone', map, HZ1)).colour, 'green');
    assert.equal(routed(decide(user('10000005'), 'rzone', map, HZ1)).colour, 'green');
    assert.equal(routed(decide(user('10000105'), 'rzone', map, HZ1)).colour, 'green');
    assert.equal(routed(decide(user('10000002'), 'rzone', map, HZ1)).colour, 'blue');
  });

  it('puts about green% of users on green, independent of their shard', () => {
    const map = exampleMap((m) => {
      for (const z of Object.values(m.zones)) z.release = { green: 30 };
    });
    let green = 0;
    const perShardGreen = new Array<number>(100).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const d = routed(decide(user(String(5_000_000 + i)), 'rzone', map, HZ1));
      if (d.colour === 'green') {
        green++;
        perShardGreen[d.shard]!++;
      }
    }
    assert.ok(Math.abs(green / n - 0.3) < 0.02, `green share ${green / n}`);
    // Every shard gets some green users: the colour hash does not follow the shard.
    for (const g of perShardGreen) assert.ok(g > 20 && g < 100, `per-shard green ${g}`);
  });

  it('keeps the colour of a user stable, and moves only new users when green grows', () => {
    const at = (pct: number) => exampleMap((m) => (m.zones.rz00!.release = { green: pct }));
    const m10 = at(10);
    const m50 = at(50);
    for (let i = 0; i < 2000; i++) {
      const uid = `${i}00`; // shard 00 → rz00
      const c10 = routed(decide(user(uid), 'rzone', m10, HZ1)).colour;
      assert.equal(routed(decide(user(uid), 'rzone', m10, HZ1)).colour, c10);
      if (c10 === 'green') assert.equal(routed(decide(user(uid), 'rzone', m50, HZ1)).colour, 'green');
    }
  });

  it('uses the release of the serving zone after failover', () => {
    const map = exampleMap((m) => {
      m.zones.rz04!.status = 'down';
      m.zones.rz06!.release = { greenShards: ['42'] };
    });
    const d = routed(decide(user('42'), 'rzone', map, HZ1));
    assert.deepEqual([d.zone, d.colour], ['rz06', 'green']);
  });

  it('gives anonymous traffic green with probability green%', () => {
    const map = exampleMap((m) => {
      m.zones.rz00!.release = { green: 25 };
      m.zones.rz01!.release = { green: 25 };
    });
    const rnd = seededRandom(9);
    let green = 0;
    for (let i = 0; i < 20000; i++)
      if (routed(decide(anonymous, 'rzone', map, HZ1, rnd)).colour === 'green') green++;
    assert.ok(Math.abs(green / 20000 - 0.25) < 0.02, `anonymous green share ${green / 20000}`);
  });
});

describe('decide: cross-IDC', () => {
  const map = exampleMap();

  it('is local in its own IDC and direct elsewhere by default', () => {
    assert.equal(routed(decide(user('05'), 'rzone', map, HZ1)).via, 'local');
    const d = routed(decide(user('42'), 'rzone', map, HZ1));
    assert.deepEqual([d.via, d.gateways], ['direct', []]);
  });

  it("goes through a peer gateway of the zone's IDC when configured", () => {
    const d = routed(decide(user('42'), 'rzone', map, { idc: 'hz-1', crossIdc: 'gateway' }));
    assert.deepEqual([d.via, d.gateways], ['gateway', ['127.0.0.1:18083']]);
  });

  it('never takes a second hop: a forwarded request goes direct', () => {
    const d = routed(
      decide(user('42'), 'rzone', map, { idc: 'hz-2', crossIdc: 'gateway' }, Math.random, true),
    );
    assert.equal(d.via, 'direct');
  });

  it('goes direct when the IDC lists no gateways', () => {
    const noPeers = exampleMap((m) => (m.idcs!['sh-1'] = { status: 'up' }));
    assert.equal(
      routed(decide(user('42'), 'rzone', noPeers, { idc: 'hz-1', crossIdc: 'gateway' })).via,
      'direct',
    );
  });
});
