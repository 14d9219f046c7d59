import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CookieKeyring } from '../../src/identity/cookie.js';
import { REPO_ROOT, runCli, runInstalledCli, tempDirForFile } from '../helpers/cli.js';
import { EXAMPLE_MAP_PATH, exampleDoc } from '../helpers/maps.js';

const dir = tempDirForFile('zg-cli-');

describe('zonegate route', () => {
  it('prints the decision for a uid as JSON', async () => {
    const r = await runCli(['route', '--map', EXAMPLE_MAP_PATH, '--idc', 'hz-1', '--uid', '10000042']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { zone: d.zone, colour: d.colour, idc: d.idc, via: d.via, reason: d.reason, shard: d.shard },
      { zone: 'rz04', colour: 'blue', idc: 'sh-1', via: 'direct', reason: 'uid-shard', shard: 42 },
    );
  });

  it('follows routes by path and cross-IDC mode', async () => {
    const g = await runCli([
      'route',
      '--map',
      EXAMPLE_MAP_PATH,
      '--idc',
      'sh-2',
      '--uid',
      '7',
      '--path',
      '/global/pay',
    ]);
    assert.equal((JSON.parse(g.stdout) as { zone: string }).zone, 'gz00');
    const p = await runCli([
      'route',
      '--map',
      EXAMPLE_MAP_PATH,
      '--idc',
      'hz-1',
      '--uid',
      '42',
      '--cross-idc',
      'gateway',
    ]);
    const d = JSON.parse(p.stdout) as { via: string; gateways: string[] };
    assert.deepEqual([d.via, d.gateways], ['gateway', ['127.0.0.1:18083']]);
  });

  it('verifies a cookie with the keyring, and ignores a forged one', async () => {
    const keys = join(dir(), 'keys.yaml');
    await writeFile(keys, stringify([{ id: 'k1', secret: 'cli-test-secret-0123456789' }]));
    const ring = await CookieKeyring.create([{ id: 'k1', secret: 'cli-test-secret-0123456789' }]);
    const good = await ring.sign({ uid: '10000055', zone: 'rz05' });
    const r = await runCli([
      'route',
      '--map',
      EXAMPLE_MAP_PATH,
      '--idc',
      'hz-1',
      '--cookie',
      good,
      '--cookie-keys',
      keys,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as { zone: string; reason: string; cookie: { verified: boolean } };
    assert.deepEqual([d.zone, d.reason, d.cookie.verified], ['rz05', 'cookie', true]);

    const forged = good.replace('.rz05.', '.rz01.');
    const f = await runCli([
      'route',
      '--map',
      EXAMPLE_MAP_PATH,
      '--idc',
      'hz-1',
      '--cookie',
      forged,
      '--cookie-keys',
      keys,
    ]);
    const fd = JSON.parse(f.stdout) as { reason: string; uid: null; cookie: { rejected: string } };
    assert.deepEqual(
      [fd.reason.startsWith('anonymous'), fd.uid, fd.cookie.rejected],
      [true, null, 'bad-signature'],
    );
  });

  it('reads an unsigned-checked cookie only with a warning', async () => {
    const ring = await CookieKeyring.create([{ id: 'k9', secret: 'unknown-secret-0123456789' }]);
    const value = await ring.sign({ uid: '10000055', zone: 'rz05' });
    const r = await runCli(['route', '--map', EXAMPLE_MAP_PATH, '--idc', 'hz-1', '--cookie', value]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /cookie signature not checked/);
    assert.equal((JSON.parse(r.stdout) as { cookie: { verified: boolean } }).cookie.verified, false);
  });

  it('prints no-live-zone with the reason when nothing can serve', async () => {
    const doc = exampleDoc();
    doc.cities.sh!.status = 'down';
    doc.zones.rz00!.status = 'down';
    const file = join(dir(), 'sh-down.yaml');
    await writeFile(file, stringify(doc));
    const r = await runCli(['route', '--map', file, '--idc', 'hz-1', '--uid', '42']);
    const d = JSON.parse(r.stdout) as { zone: null; reason: string; detail: string };
    assert.deepEqual([d.zone, d.reason], [null, 'no-live-zone']);
    assert.match(d.detail, /rz04 and its standbys rz06, rz00 are not live/);
  });

  it('exits 2 with the reason on bad usage', async () => {
    const cases: [string[], RegExp][] = [
      [['route', '--idc', 'hz-1', '--uid', '1'], /--map is required/],
      [
        ['route', '--map', EXAMPLE_MAP_PATH, '--idc', 'bj-1', '--uid', '1'],
        /unknown IDC 'bj-1' \(the map has hz-1/,
      ],
      [['route', '--map', EXAMPLE_MAP_PATH, '--idc', 'hz-1'], /give --uid UID or --cookie VALUE/],
      [
        ['route', '--map', EXAMPLE_MAP_PATH, '--idc', 'hz-1', '--uid', '1', '--bogus'],
        /Unknown option '--bogus'/,
      ],
      [['route', '--map', '/nope.yaml', '--idc', 'hz-1', '--uid', '1'], /cannot read \/nope\.yaml: ENOENT/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, why] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, why);
    }
  });
});

describe('zonegate map validate', () => {
  it('accepts the example map', async () => {
    const r = await runCli(['map', 'validate', EXAMPLE_MAP_PATH]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /ok \(version 1, 100 shards, 3 cities, 5 IDCs, 10 rzones, 1 gzone, 3 czones\)/);
  });

  it('exits 2 listing every problem of a broken map', async () => {
    const doc = exampleDoc();
    doc.zones.rz03!.failover = ['rz01', 'rz33'];
    doc.zones.rz04!.shards = ['40-41', '43-49'];
    doc.zones.rz01!.shards = ['10-19', '17'];
    const file = join(dir(), 'broken.yaml');
    await writeFile(file, stringify(doc));
    const r = await runCli(['map', 'validate', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid, 3 problems:/);
    assert.match(r.stderr, /zones\.rz03\.failover\[1\]: unknown zone 'rz33'/);
    assert.match(r.stderr, /shard 42 has no owner/);
    assert.match(r.stderr, /zones\.rz01\.shards: shard 17 is listed more than once/);
  });

  it('exits 2 on a file that is not YAML', async () => {
    const file = join(dir(), 'junk.yaml');
    await writeFile(file, 'zones: [oops\n');
    const r = await runCli(['map', 'validate', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not valid YAML or JSON/);
  });
});

describe('installed CLI (bin/zonegate.js → dist)', () => {
  it('runs route and map validate from the compiled build, with their exit codes', async () => {
    assert.ok(
      existsSync(join(REPO_ROOT, 'dist/cli/main.js')),
      'dist/ missing: `npm install` (prepare) or `npm run build` builds it',
    );
    const v = await runInstalledCli(['map', 'validate', EXAMPLE_MAP_PATH]);
    assert.equal(v.code, 0, v.stderr);
    const r = await runInstalledCli([
      'route',
      '--map',
      EXAMPLE_MAP_PATH,
      '--idc',
      'hz-1',
      '--uid',
      '10000042',
    ]);
    assert.equal((JSON.parse(r.stdout) as { zone: string }).zone, 'rz04');
    const h = await runInstalledCli(['--help']);
    assert.match(h.stdout, /route\s+Print the routing decision/);
    // The exit status a script sees comes through bin/zonegate.js, not only main()'s return.
    const bad = await runInstalledCli(['route', '--map', EXAMPLE_MAP_PATH, '--idc', 'hz-1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /give --uid UID or --cookie VALUE/);
  });
});
