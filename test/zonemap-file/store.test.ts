import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  FileZoneMapStore,
  ZoneMapConflictError,
  ZoneMapStoreUnavailableError,
  ZoneMapVersionNotFoundError,
  historyFileOf,
  writeZoneMap,
  type HistoryWrite,
} from '../../src/zonemap/stores/index.js';
import { exampleDoc, type MutableDoc } from '../helpers/maps.js';
import type { ZoneMapDoc } from '../../src/zonemap/index.js';

function docAt(version: number, change?: (d: MutableDoc) => void): ZoneMapDoc {
  const d = exampleDoc();
  d.version = version;
  change?.(d);
  return d;
}

const meta = (action: string): HistoryWrite => ({ who: 't@h', reason: 'test', action, summary: action });

describe('FileZoneMapStore', () => {
  let dir: string;
  let n = 0;
  const fresh = (name = 'map.json'): string => join(dir, `${n++}-${name}`);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'zg-filestore-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('first write creates the map and its history; the compare-and-set refuses a stale base and changes nothing', async () => {
    const path = fresh();
    const store = await FileZoneMapStore.open(path);
    assert.deepEqual(await store.readRaw(), { version: null, json: null });
    await writeZoneMap(store, docAt(1), null, meta('seed'));
    await writeZoneMap(
      store,
      docAt(2, (d) => (d.zones['rz03']!.status = 'down')),
      1,
      meta('zone down rz03'),
    );
    const before = readFileSync(path, 'utf8');
    const historyBefore = readFileSync(historyFileOf(path), 'utf8');
    // A second SRE still based on version 1 (and one who thinks the store is empty).
    for (const expected of [1, null]) {
      await assert.rejects(
        writeZoneMap(
          store,
          docAt(2, (d) => (d.zones['rz05']!.status = 'down')),
          expected,
          meta('late'),
        ),
        (err: unknown) =>
          err instanceof ZoneMapConflictError &&
          err.code === 'ZG_ERR_ZONEMAP_CONFLICT' &&
          err.expected === expected &&
          err.actual === 2 &&
          /based on version (1|none), but the store now holds version 2/.test(err.message),
      );
    }
    assert.equal(readFileSync(path, 'utf8'), before);
    assert.equal(readFileSync(historyFileOf(path), 'utf8'), historyBefore);
    assert.equal((JSON.parse(before) as ZoneMapDoc).zones['rz03']?.status, 'down');
    // Nothing left behind: no temporary file, no lock.
    assert.deepEqual(
      readdirSync(dir).filter(
        (f) => f.startsWith(path.slice(dir.length + 1)) && !/json(\.history\.jsonl)?$/.test(f),
      ),
      [],
    );
  });

  it('keeps history newest first, with fields it does not know, and skips lines it cannot read', async () => {
    const path = fresh();
    const store = await FileZoneMapStore.open(path);
    await writeZoneMap(store, docAt(1), null, meta('seed'));
    // A later HistoryWrite may carry more (a drill id, a plan name): they must come back.
    const extra = { ...meta('zone down rz03'), drill: 'd-42', plan: 'hz-2 failover' };
    await writeZoneMap(
      store,
      docAt(2, (d) => (d.zones['rz03']!.status = 'down')),
      1,
      extra,
    );
    appendFileSync(historyFileOf(path), 'not json\n[1,2]\n{"version":"x"}\n');
    await writeZoneMap(store, docAt(3), 2, meta('zone up rz03'));
    // A crash mid-append leaves half a line at the end.
    appendFileSync(historyFileOf(path), '{"version":4,"previous":3,"at":"20');
    const h = await store.history(10);
    assert.deepEqual(
      h.map((e) => [e.version, e.previous, e.action]),
      [
        [3, 2, 'zone up rz03'],
        [2, 1, 'zone down rz03'],
        [1, null, 'seed'],
      ],
    );
    const second = h[1] as unknown as Record<string, unknown>;
    assert.equal(second['drill'], 'd-42');
    assert.equal(second['plan'], 'hz-2 failover');
    assert.equal(second['who'], 't@h');
    assert.ok(!Number.isNaN(Date.parse(h[0]!.at)));
    assert.equal((await store.history(1)).length, 1);
    const v2 = await store.historyDoc(2);
    assert.equal(v2.doc.zones['rz03']?.status, 'down');
    assert.equal(v2.entry.action, 'zone down rz03');
    await assert.rejects(
      store.historyDoc(9),
      (err: unknown) => err instanceof ZoneMapVersionNotFoundError && /oldest kept: 1/.test(err.message),
    );
    assert.deepEqual(await store.gateways(), []);
  });

  it('keeps a YAML map YAML, and reads a hand-written YAML map as its current version', async () => {
    const path = fresh('map.yaml');
    writeFileSync(
      path,
      readFileSync(join(import.meta.dirname, '../../policies/examples/three-site-five-center.yaml')),
    );
    const store = await FileZoneMapStore.open(path);
    assert.equal((await store.readRaw()).version, '1');
    await writeZoneMap(
      store,
      docAt(2, (d) => (d.zones['rz03']!.status = 'drain')),
      1,
      meta('zone drain rz03'),
    );
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.trimStart().startsWith('{'), 'written as YAML');
    assert.equal((parse(text) as ZoneMapDoc).zones['rz03']?.status, 'drain');
  });

  it('a file that is not a map reads as unversioned, and map apply may replace it', async () => {
    const path = fresh();
    writeFileSync(path, '{ this is: [not');
    const store = await FileZoneMapStore.open(path);
    const raw = await store.readRaw();
    assert.equal(raw.version, null);
    await writeZoneMap(store, docAt(5), null, meta('repair'));
    assert.equal((JSON.parse(readFileSync(path, 'utf8')) as ZoneMapDoc).version, 5);
  });

  it('waits for a lock held by a live writer and then says who holds it; breaks one left by a dead process', async () => {
    const path = fresh();
    const store = await FileZoneMapStore.open(path, { lockTimeoutMs: 150 });
    await writeZoneMap(store, docAt(1), null, meta('seed'));
    writeFileSync(`${path}.lock`, `${process.pid} ${hostname()} 2026-01-01T00:00:00.000Z\n`);
    await assert.rejects(
      writeZoneMap(store, docAt(2), 1, meta('blocked')),
      (err: unknown) =>
        err instanceof ZoneMapStoreUnavailableError &&
        err.message.includes(`locked by another writer`) &&
        err.message.includes(String(process.pid)),
    );
    assert.equal((await store.readRaw()).version, '1');
    // A pid that has exited: run one short process and use its pid.
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) => dead.once('exit', () => resolve(dead.pid!)));
    writeFileSync(`${path}.lock`, `${deadPid} ${hostname()} 2026-01-01T00:00:00.000Z\n`);
    await writeZoneMap(store, docAt(2), 1, meta('after a crash'));
    assert.equal((await store.readRaw()).version, '2');
    assert.throws(() => readFileSync(`${path}.lock`), /ENOENT/);
  });

  it('refuses a folder that does not exist, naming it', async () => {
    await assert.rejects(
      FileZoneMapStore.open(join(dir, 'nope', 'map.json')),
      (err: unknown) =>
        err instanceof ZoneMapStoreUnavailableError && err.message.includes(join(dir, 'nope')),
    );
  });
});
