import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProblem } from '../../src/core/errors.js';
import { validateZoneMap } from '../../src/zonemap/index.js';
import { exampleDoc, type MutableDoc } from '../helpers/maps.js';

function problemsOf(input: unknown): string[] {
  const v = validateZoneMap(input);
  return v.ok ? [] : v.problems.map(formatProblem);
}

function broken(change: (doc: MutableDoc) => void): string[] {
  const doc = exampleDoc();
  change(doc);
  return problemsOf(doc);
}

/** [what is broken, the change, a problem line that must be reported] */
const CASES: [string, (d: MutableDoc) => void, string][] = [
  ['missing version', (d) => delete (d as Partial<MutableDoc>).version, 'version: is required'],
  ['negative version', (d) => (d.version = -1), 'version: must be >= 0'],
  ['zero shards', (d) => (d.shards = 0), 'shards: must be >= 1'],
  [
    'unknown top-level key',
    (d) => ((d as Record<string, unknown>).colour = 'blue'),
    'colour: is not a known property',
  ],
  [
    'bad zone status',
    (d) => ((d.zones.rz03 as Record<string, unknown>).status = 'sleeping'),
    'zones.rz03.status: must be one of up, drain, down',
  ],
  [
    'bad zone kind',
    (d) => ((d.zones.rz03 as Record<string, unknown>).kind = 'xzone'),
    'zones.rz03.kind: must be one of rzone, gzone, czone',
  ],
  [
    'zone without idc',
    (d) => delete (d.zones.rz03 as Record<string, unknown>).idc,
    'zones.rz03.idc: is required',
  ],
  [
    'upstream not host:port',
    (d) => (d.zones.rz00!.upstreams!.http!.blue = ['localhost']),
    'zones.rz00.upstreams.http.blue[0]: has an invalid format (expected host:port)',
  ],
  ['negative weight', (d) => (d.zones.rz01!.weight = -5), 'zones.rz01.weight: must be >= 0'],
  [
    'green above 100',
    (d) => (d.zones.rz00!.release = { green: 150 }),
    'zones.rz00.release.green: must be <= 100',
  ],
  [
    'unknown failover target',
    (d) => (d.zones.rz03!.failover = ['rz01', 'rz33']),
    "zones.rz03.failover[1]: unknown zone 'rz33'",
  ],
  [
    'zone as its own standby',
    (d) => (d.zones.rz03!.failover = ['rz03']),
    'zones.rz03.failover[0]: a zone cannot be its own standby',
  ],
  [
    'standby of another kind',
    (d) => (d.zones.rz00!.failover = ['gz00']),
    "zones.rz00.failover[0]: standby 'gz00' is a gzone, not a rzone",
  ],
  [
    'standby listed twice',
    (d) => (d.zones.rz00!.failover = ['rz02', 'rz02']),
    "zones.rz00.failover[1]: standby 'rz02' is listed twice",
  ],
  ['one shard without owner', (d) => (d.zones.rz04!.shards = ['40-48']), 'shard 49 has no owner'],
  ['many shards without owner', (d) => (d.zones.rz04!.shards = []), 'shards 40-49 have no owner'],
  [
    'shard owned twice',
    (d) => (d.zones.rz01!.shards = ['10-19', '42']),
    'shard 42 is owned by rz01 and rz04',
  ],
  [
    'shard out of range',
    (d) => (d.zones.rz09!.shards = ['90-100']),
    'zones.rz09.shards[0]: shard 100 is out of range 00-99',
  ],
  [
    'reversed range',
    (d) => (d.zones.rz01!.shards = ['19-10']),
    'zones.rz01.shards[0]: range "19-10" ends before it starts',
  ],
  [
    'shard spec not a shard',
    (d) => (d.zones.rz01!.shards = ['1x']),
    'zones.rz01.shards[0]: has an invalid format (expected a shard like "07" or a range like "00-19")',
  ],
  [
    'same shard twice in one zone',
    (d) => (d.zones.rz01!.shards = ['10-19', '15']),
    'zones.rz01.shards: shard 15 is listed more than once',
  ],
  ['unknown IDC', (d) => (d.zones.rz00!.idc = 'hz-9'), "zones.rz00.idc: unknown IDC 'hz-9'"],
  [
    'IDC in two cities',
    (d) => d.cities.sz!.idcs.push('hz-1'),
    "cities.sz.idcs[1]: IDC 'hz-1' is already listed by city hz",
  ],
  [
    'idcs entry of no city',
    (d) => (d.idcs!['bj-1'] = { status: 'up' }),
    "idcs.bj-1: IDC 'bj-1' is not listed by any city",
  ],
  ['no gzone', (d) => delete d.zones.gz00, 'zones: there is no gzone (exactly one is required)'],
  [
    'two gzones',
    (d) => (d.zones.gz01 = { kind: 'gzone', idc: 'sh-1' }),
    'zones: there are 2 gzones (gz00, gz01); exactly one is allowed',
  ],
  [
    'czone with shards',
    (d) => (d.zones['cz-hz']!.shards = ['00']),
    'zones.cz-hz.shards: only rzones own shards (this zone is a czone)',
  ],
  [
    'two czones in a city',
    (d) => (d.zones['cz-hz2'] = { kind: 'czone', idc: 'hz-1' }),
    'zones.cz-hz2.kind: city hz already has czone cz-hz (one per city)',
  ],
  [
    'greenShards out of range',
    (d) => (d.zones.rz00!.release = { greenShards: ['120'] }),
    'zones.rz00.release.greenShards[0]: shard 120 is out of range 00-99',
  ],
  [
    'shadowed route',
    (d) => d.routes!.push({ pathPrefix: '/global/admin/', kind: 'czone' }),
    'routes[2].pathPrefix: never matches: routes[0] (/global/) matches first',
  ],
  [
    'route prefix without slash',
    (d) => (d.routes![0]!.pathPrefix = 'global/'),
    'routes[0].pathPrefix: has an invalid format (must start with /)',
  ],
  [
    'invalid zone name',
    (d) => (d.zones['rz 1'] = { kind: 'rzone', idc: 'hz-1' }),
    'zones.rz 1: is not a valid name (letters, digits, _ and -)',
  ],
  ['wrong type', (d) => ((d as Record<string, unknown>).shards = '100'), 'shards: must be an integer'],
];

describe('zone map validation', () => {
  it('accepts the example map', () => {
    assert.deepEqual(problemsOf(exampleDoc()), []);
  });

  for (const [what, change, expected] of CASES) {
    it(`refuses a map with ${what}`, () => {
      const problems = broken(change);
      assert.ok(problems.includes(expected), `expected "${expected}" in:\n${problems.join('\n')}`);
    });
  }

  it('reports every problem at once', () => {
    const problems = broken((d) => {
      d.zones.rz03!.failover = ['rz33'];
      d.zones.rz04!.shards = ['40-48'];
      d.zones.rz00!.idc = 'hz-9';
      delete d.zones.gz00;
    });
    assert.deepEqual(
      problems.sort(),
      [
        "zones.rz00.idc: unknown IDC 'hz-9'",
        "zones.rz03.failover[0]: unknown zone 'rz33'",
        'shard 49 has no owner',
        'zones: there is no gzone (exactly one is required)',
      ].sort(),
    );
  });

  it('refuses things that are not maps at all', () => {
    assert.deepEqual(problemsOf('hello'), ['must be an object']);
    assert.deepEqual(problemsOf(null), ['must be an object']);
    assert.ok(problemsOf({}).includes('zones: is required'));
  });

  it('returns a frozen copy that later edits of the input cannot change', () => {
    const doc = exampleDoc();
    const v = validateZoneMap(doc);
    assert.ok(v.ok);
    doc.zones.rz00!.status = 'down';
    assert.equal(v.doc.zones.rz00!.status, 'up');
    assert.ok(Object.isFrozen(v.doc.zones.rz00));
  });
});
