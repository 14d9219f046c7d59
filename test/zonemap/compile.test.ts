import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { once } from 'node:events';
import { stringify } from 'yaml';
import { DocumentReadError, InvalidZoneMapError } from '../../src/core/errors.js';
import {
  FileZoneMapSource,
  ZoneMapHolder,
  diffServing,
  formatShardRanges,
  loadZoneMapText,
  parseDocument,
  serializeZoneMap,
  type CompiledZoneMap,
} from '../../src/zonemap/index.js';
import { compile, exampleDoc, exampleMap } from '../helpers/maps.js';

describe('compileZoneMap', () => {
  const map = exampleMap();

  it('builds the shard → zone table', () => {
    assert.equal(map.shardOwner.length, 100);
    assert.equal(map.zones[map.shardOwner[42]!]!.name, 'rz04');
    assert.equal(map.zones[map.shardOwner[0]!]!.name, 'rz00');
    assert.equal(map.zones[map.shardOwner[99]!]!.name, 'rz09');
  });

  it('knows each zone’s city, liveness and serving zone', () => {
    const down = exampleMap((d) => (d.idcs!['sh-1']!.status = 'drain'));
    const rz04 = down.zones[down.zoneIndex.get('rz04')!]!;
    assert.deepEqual([rz04.city, rz04.status, rz04.effectiveStatus, rz04.live], ['sh', 'up', 'drain', false]);
    assert.equal(down.zones[rz04.serving]!.name, 'rz06');
    assert.equal(rz04.failoverReason, 'failover:rz04->rz06');
  });

  it('indexes the GZone, the CZones by city, and the anonymous pick tables', () => {
    assert.equal(map.zones[map.gzone]!.name, 'gz00');
    assert.deepEqual(
      [...map.czoneByCity].map(([c, i]) => [c, map.zones[i]!.name]),
      [
        ['hz', 'cz-hz'],
        ['sh', 'cz-sh'],
        ['sz', 'cz-sz'],
      ],
    );
    const hz1 = map.anonymousByIdc.get('hz-1')!;
    assert.deepEqual(
      [...hz1.zones].map((i) => map.zones[i]!.name),
      ['rz00', 'rz01'],
    );
    assert.deepEqual([...hz1.cumulative], [100, 150]);
    assert.equal(map.anonymousAll.total, 950);
  });

  it('compiles a 10,000-shard map', () => {
    const doc = exampleDoc();
    doc.shards = 10000;
    let i = 0;
    for (const z of Object.values(doc.zones)) {
      if (z.kind !== 'rzone') continue;
      // Every other shard, so each zone has 500 one-shard specs plus one range: many specs to parse.
      z.shards = [];
      for (let s = i * 1000; s < i * 1000 + 1000; s += 2) z.shards.push(String(s).padStart(4, '0'));
      z.shards.push(
        ...formatShardRanges(
          Array.from({ length: 500 }, (_, k) => i * 1000 + 2 * k + 1),
          4,
        ),
      );
      i++;
    }
    const m = compile(doc);
    assert.equal(m.shardWidth, 4);
    assert.equal(m.zones[m.shardOwner[4321]!]!.name, 'rz04');
    assert.ok(m.shardOwner.every((o) => o >= 0));
  });
});

describe('loading documents', () => {
  it('reads JSON as well as YAML', () => {
    const json = serializeZoneMap(exampleMap().doc, 'json');
    assert.equal(loadZoneMapText(json, 'map.json').version, 1);
    const yaml = serializeZoneMap(exampleMap().doc, 'yaml');
    assert.deepEqual(loadZoneMapText(yaml, 'map.yaml').doc, exampleMap().doc);
  });

  it('refuses duplicate keys instead of silently dropping a zone', () => {
    assert.throws(
      () => parseDocument('zones:\n  rz00: {}\n  rz00: {}\n', 'dup.yaml'),
      (e: unknown) => {
        assert.ok(e instanceof DocumentReadError);
        assert.match(e.message, /dup\.yaml: not valid YAML or JSON: .*[Mm]ap keys must be unique/);
        return true;
      },
    );
  });

  it('refuses text that is not YAML', () => {
    assert.throws(() => parseDocument('zones: [1, 2\n', 'broken.yaml'), DocumentReadError);
  });

  it('throws InvalidZoneMapError with every problem', () => {
    const doc = exampleDoc();
    doc.zones.rz00!.failover = ['nope'];
    assert.throws(
      () => loadZoneMapText(stringify(doc), 'bad.yaml'),
      (e: unknown) => {
        assert.ok(e instanceof InvalidZoneMapError);
        assert.equal(e.code, 'ZG_ERR_ZONEMAP_INVALID');
        assert.match(
          e.message,
          /bad\.yaml is invalid \(1 problem\):\n {2}- zones\.rz00\.failover\[0\]: unknown zone 'nope'/,
        );
        return true;
      },
    );
  });
});

describe('diffServing', () => {
  it('lists which shards move from which zone to which', () => {
    const before = exampleMap();
    const after = exampleMap((d) => {
      d.zones.rz04!.status = 'down';
      d.zones.rz01!.shards = ['10-14'];
      d.zones.rz03!.shards = ['15-19', '30-39'];
    });
    assert.deepEqual(diffServing(before, after), [
      { from: 'rz01', to: 'rz03', shards: ['15-19'], count: 5 },
      { from: 'rz04', to: 'rz06', shards: ['40-49'], count: 10 },
    ]);
  });

  it('reports shards that lose their last live zone as going to null', () => {
    const after = exampleMap((d) => {
      for (const z of ['rz08', 'rz09', 'rz04', 'rz05']) d.zones[z]!.status = 'down';
    });
    const toNull = diffServing(exampleMap(), after).filter((m) => m.to === null);
    assert.deepEqual(toNull, [
      { from: 'rz08', to: null, shards: ['80-89'], count: 10 },
      { from: 'rz09', to: null, shards: ['90-99'], count: 10 },
    ]);
  });
});

describe('ZoneMapHolder', () => {
  it('swaps atomically and tells listeners the new and old map', () => {
    const a = exampleMap();
    const b = exampleMap((d) => (d.version = 2));
    const holder = new ZoneMapHolder(a);
    const seen: [number, number][] = [];
    holder.on('change', (next, prev) => seen.push([next.version, prev.version]));
    holder.swap(b);
    holder.swap(b);
    assert.equal(holder.current, b);
    assert.deepEqual(seen, [[2, 1]]);
  });
});

describe('FileZoneMapSource', () => {
  it('follows edits of the file, refuses invalid ones, and keeps the last good map', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zg-map-'));
    const path = join(dir, 'map.yaml');
    try {
      const doc = exampleDoc();
      await writeFile(path, stringify(doc));
      const source = new FileZoneMapSource({ path, debounceMs: 10 });
      const first = await source.start();
      assert.equal(first.version, 1);

      // An atomic replace (write elsewhere, rename over) as deploy tools do.
      doc.version = 2;
      doc.zones.rz04!.status = 'down';
      await writeFile(`${path}.tmp`, stringify(doc));
      await rename(`${path}.tmp`, path);
      const [next] = (await once(source, 'map')) as [CompiledZoneMap];
      assert.equal(next.version, 2);
      assert.equal(next.zones[next.zoneIndex.get('rz04')!]!.status, 'down');

      doc.version = 3;
      doc.zones.rz04!.failover = ['ghost'];
      await writeFile(path, stringify(doc));
      const [err] = (await once(source, 'invalid')) as [InvalidZoneMapError];
      assert.match(err.message, /unknown zone 'ghost'/);
      await source.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails to start when the file is missing', async () => {
    const source = new FileZoneMapSource({ path: '/nonexistent/zonegate/map.yaml' });
    await assert.rejects(source.start(), /cannot read \/nonexistent\/zonegate\/map\.yaml: ENOENT/);
  });
});
