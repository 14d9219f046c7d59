import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ZoneMapDoc } from '../../src/zonemap/index.js';
import { FileZoneMapStore, historyFileOf } from '../../src/zonemap/stores/index.js';
import { exec } from '../helpers/child-processes.js';
import { REPO_ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { EXAMPLE_MAP_PATH } from '../helpers/maps.js';
import { startHarness, type Harness } from '../http/harness.js';

const zoneOf = async (url: string, uid: string): Promise<string> => {
  const r = await fetch(`${url}/orders`, { headers: { 'x-ldc-uid': uid } });
  return ((await r.json()) as { zone: string }).zone;
};

describe('the drill commands on a map file (--map, -c zonemap.file), and a gateway following it', () => {
  let dir: string;
  let h: Harness;
  const onFile = (...args: string[]): Promise<CliResult> => runCli([...args, '--map', h.mapFile]);
  /** Resolves when the gateway routes by `version`. */
  const applied = (version: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (h.gw.holder.current.version !== version) return;
        h.gw.holder.off('change', check);
        resolve();
      };
      h.gw.holder.on('change', check);
      check();
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zg-filecli-'));
    h = await startHarness();
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('map apply seeds an empty file; a stale file conflicts; invalid maps never reach it', async () => {
    const path = join(dir, 'seed.json');
    const seed = await runCli(['map', 'apply', EXAMPLE_MAP_PATH, '--map', path, '--reason', 'seed']);
    assert.equal(seed.code, 0, seed.stderr);
    assert.match(seed.stdout, new RegExp(`written: version 1 \\(was none\\).*`));
    assert.match(seed.stdout, new RegExp(`on file ${path}`));
    assert.equal((JSON.parse(readFileSync(path, 'utf8')) as ZoneMapDoc).version, 1);
    const down = await runCli(['zone', 'down', 'rz03', '--map', path]);
    assert.equal(down.code, 0, down.stderr);
    // The example file says version 1; the store holds 2.
    const stale = await runCli(['map', 'apply', EXAMPLE_MAP_PATH, '--map', path]);
    assert.equal(stale.code, 1);
    assert.match(
      stale.stderr,
      /based on version 1, but the store now holds version 2 .*\[ZG_ERR_ZONEMAP_CONFLICT\]/s,
    );
    const bad = await runCli(['zone', 'weight', 'rz77', '5', '--map', path]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown zone 'rz77'/);
    const both = await runCli(['map', 'show', '--map', path, '--redis', 'redis://127.0.0.1:1']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /name one store/);
    assert.equal((JSON.parse(readFileSync(path, 'utf8')) as ZoneMapDoc).version, 2);
  });

  it('zone down moves the gateway following the file; history, rollback and -c CONFIG work on it', async () => {
    assert.equal(await zoneOf(h.url, '1234'), 'rz03');
    const dry = await onFile('zone', 'down', 'rz03', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /30-39 {2}rz03 -> rz01 {2}\[10\]/);
    assert.match(dry.stdout, /dry run: nothing written/);
    assert.equal((await new FileZoneMapStore(h.mapFile).readRaw()).version, '1');

    const down = await onFile('zone', 'down', 'rz03', '--reason', 'drill 7');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /written: version 2 \(was 1\)/);
    // The write is a rename over the map: the gateway's file source must see it.
    await applied(2);
    assert.equal(await zoneOf(h.url, '1234'), 'rz01');

    const up = await onFile('zone', 'up', 'rz03');
    assert.equal(up.code, 0, up.stderr);
    await applied(3);
    assert.equal(await zoneOf(h.url, '1234'), 'rz03');

    const hist = await onFile('map', 'history', '--json');
    assert.equal(hist.code, 0, hist.stderr);
    const entries = JSON.parse(hist.stdout) as { version: number; action: string; reason: string }[];
    assert.deepEqual(
      entries.map((e) => [e.version, e.action, e.reason]),
      [
        [3, 'zone up rz03', ''],
        [2, 'zone down rz03', 'drill 7'],
      ],
    );

    // The one before version 3 is 2 (rz03 down): written again as version 4.
    const back = await onFile('map', 'rollback', '--reason', 'undo');
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /rollback to 2: version 3 -> 4/);
    await applied(4);
    assert.equal(await zoneOf(h.url, '1234'), 'rz01');

    // -c: the gateway config's zonemap.file, relative to the config's folder.
    const cfg = join(dir, 'gateway.yaml');
    writeFileSync(
      cfg,
      [
        'idc: hz-1',
        'listeners: [{ name: web, protocol: http, port: 0 }]',
        `zonemap: { file: ${h.mapFile} }`,
        "identity: { cookie: { keys: [{ id: k, secret: 'x-test-secret-0123456789' }] } }",
        '',
      ].join('\n'),
    );
    const show = await runCli(['map', 'show', '-c', cfg, '--format', 'json']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal((JSON.parse(show.stdout) as ZoneMapDoc).version, 4);
    const status = await runCli(['map', 'status', '-c', cfg]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /store version: 4/);
  });

  it('concurrent writers in separate processes lose no write', async () => {
    const path = join(dir, 'race.json');
    const seed = await runCli(['map', 'apply', EXAMPLE_MAP_PATH, '--map', path]);
    assert.equal(seed.code, 0, seed.stderr);
    const writers = 3;
    const each = 4;
    const zones = ['rz00', 'rz02', 'rz04'];
    const outputs = await Promise.all(
      zones.slice(0, writers).map(async (zone, w) => {
        const r = await exec(
          process.execPath,
          [
            '--import',
            'tsx',
            join(import.meta.dirname, 'fixtures/bump.ts'),
            path,
            `w${w}`,
            String(each),
            zone,
          ],
          { cwd: REPO_ROOT, timeoutMs: 60_000 },
        );
        assert.equal(r.code, 0, r.stderr);
        return r.stdout;
      }),
    );
    // Every commit a writer was told about holds a version of its own...
    const committed = outputs.flatMap((o) => o.trim().split('\n'));
    assert.equal(committed.length, writers * each);
    const versions = committed.map((l) => Number(l.split(' ')[2])).sort((a, b) => a - b);
    assert.deepEqual(
      versions,
      Array.from({ length: writers * each }, (_, i) => i + 2),
    );
    // ...and the history is one unbroken chain holding every one of them.
    const history = await new FileZoneMapStore(path).history(100);
    assert.equal(history.length, writers * each + 1);
    for (const [i, e] of history.entries()) {
      assert.equal(e.version, writers * each + 1 - i);
      assert.equal(e.previous, e.version === 1 ? null : e.version - 1);
    }
    const actions = new Set(history.map((e) => e.action));
    for (let w = 0; w < writers; w++)
      for (let i = 0; i < each; i++) assert.ok(actions.has(`bump w${w} ${i}`));
    // The last write of each writer is in the map: nobody overwrote another's change.
    const doc = JSON.parse(readFileSync(path, 'utf8')) as ZoneMapDoc;
    for (const zone of zones) assert.equal(doc.zones[zone]?.weight, each);
    assert.equal(readFileSync(historyFileOf(path), 'utf8').trim().split('\n').length, writers * each + 1);
  });
});
