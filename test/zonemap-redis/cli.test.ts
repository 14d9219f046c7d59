import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedisZoneMapSource, RedisZoneMapStore, zoneMapKeys } from '../../src/zonemap/stores/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { EXAMPLE_MAP_PATH } from '../helpers/maps.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { docAt } from './support.js';

describe('zonegate map / zone / idc / shards / release against a real Redis', () => {
  let redis: RedisServer;
  let store: RedisZoneMapStore;
  let dir: string;
  const zg = (...args: string[]): Promise<CliResult> => runCli([...args, '--redis', redis.url]);
  const version = async (): Promise<number | undefined> => (await store.read())?.version;

  before(async () => {
    redis = await startRedis();
    store = await RedisZoneMapStore.open({ url: redis.url }, 'test');
    dir = mkdtempSync(join(tmpdir(), 'zg-cli-'));
  });
  after(async () => {
    await store.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('map apply seeds the store and map show prints it back', async () => {
    const r = await zg('map', 'apply', EXAMPLE_MAP_PATH, '--reason', 'seed');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /written: version 1 \(was none\)/);
    const show = await zg('map', 'show', '--format', 'json');
    assert.equal(show.code, 0, show.stderr);
    const shown = JSON.parse(show.stdout) as { version: number; zones: Record<string, unknown> };
    assert.equal(shown.version, 1);
    assert.ok('rz09' in shown.zones);
  });

  it('--dry-run prints the blast radius and writes nothing', async () => {
    const r = await zg('zone', 'down', 'rz03', '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /zone rz03 status up -> down/);
    assert.match(r.stdout, /serving moves: 10 of 100 shards/);
    assert.match(r.stdout, /30-39 {2}rz03 -> rz01 {2}\[10\]/);
    assert.match(r.stdout, /dry run: nothing written/);
    assert.equal(await version(), 1);
  });

  it('zone down writes a new version with who and why in the history', async () => {
    const r = await zg('zone', 'down', 'rz03', '--reason', 'drill 42');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /written: version 2 \(was 1\)/);
    assert.equal((await store.read())?.zones['rz03']?.status, 'down');
    const h = await zg('map', 'history', '--limit', '1', '--json');
    const [entry] = JSON.parse(h.stdout) as {
      version: number;
      who: string;
      reason: string;
      action: string;
      summary: string;
    }[];
    assert.equal(entry?.version, 2);
    assert.equal(entry?.who, `${userInfo().username}@${hostname()}`);
    assert.equal(entry?.reason, 'drill 42');
    assert.equal(entry?.action, 'zone down rz03');
    assert.match(entry?.summary ?? '', /30-39 rz03->rz01/);
  });

  it('refuses (exit 2) a change that leaves a zone with no live zone or moves too many shards; --force overrides', async () => {
    const r = await zg('idc', 'down', 'hz-1');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /refused/);
    assert.match(r.stderr, /ZG_ERR_DRILL_REFUSED/);
    assert.match(r.stderr, /zone gz00 would have no live zone/);
    assert.match(r.stderr, /30 of 100 shards \(30\.0%\) would change zone at once; the limit is 25%/);
    assert.equal(await version(), 2, 'nothing written');
    const forced = await zg(
      'idc',
      'down',
      'hz-1',
      '--force',
      '--max-move-percent',
      '50',
      '--reason',
      'full drill',
    );
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /guard rails overridden by --force/);
    assert.equal(await version(), 3);
  });

  it('map rollback writes the previous version again as a new version', async () => {
    const r = await zg('map', 'rollback', '--reason', 'undo', '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rollback to 2: version 3 -> 4/);
    const doc = await store.read();
    assert.equal(doc?.version, 4);
    assert.equal(doc?.idcs?.['hz-1']?.status, 'up');
    assert.equal(doc?.zones['rz03']?.status, 'down', 'as in version 2');
    const toFirst = await zg('map', 'rollback', '1');
    assert.equal(toFirst.code, 0, toFirst.stderr);
    assert.equal((await store.read())?.zones['rz03']?.status, 'up');
    assert.equal(await version(), 5);
    const missing = await zg('map', 'rollback', '99');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ZG_ERR_ZONEMAP_VERSION_NOT_FOUND/);
  });

  it('map apply of a file edited from an old version is a conflict naming both versions (exit 1)', async () => {
    const stale = join(dir, 'stale.json');
    writeFileSync(stale, JSON.stringify(docAt(3, (d) => (d.zones['rz09']!.weight = 10))));
    const r = await zg('map', 'apply', stale);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /based on version 3, but the store now holds version 5/);
    assert.match(r.stderr, /ZG_ERR_ZONEMAP_CONFLICT/);
    assert.equal(await version(), 5);
    const diff = await zg('map', 'diff', stale);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /zone rz09 weight 100 -> 10/);
    assert.match(diff.stdout, /would conflict/);
  });

  it('map apply of an invalid file lists every problem and exits 2', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify(
        docAt(5, (d) => {
          d.zones['rz00']!.failover = ['nope'];
          d.zones['rz01']!.idc = 'mars-1';
        }),
      ),
    );
    const r = await zg('map', 'apply', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope/);
    assert.match(r.stderr, /mars-1/);
    assert.equal(await version(), 5);
  });

  it('release and shards move print colour and shard changes in a dry run', async () => {
    const rel = await zg('release', 'rz01', '--green', '50', '--green-uids', 'u1,u2', '--dry-run');
    assert.equal(rel.code, 0, rel.stderr);
    assert.match(
      rel.stdout,
      /rz01: blue -> green ≈ 5\.00 shards \(5\.0% of users\), \+2 listed uid\(s\) to green/,
    );
    const mv = await zg('shards', 'move', '00-04', '--to', 'rz05', '--dry-run');
    assert.equal(mv.code, 0, mv.stderr);
    assert.match(mv.stdout, /00-04 {2}rz00 -> rz05 {2}\[5\]/);
    const unknown = await zg('zone', 'down', 'rz99');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown zone 'rz99'/);
    assert.equal(await version(), 5);
  });

  it('map status lists each gateway with its version and who lags', async () => {
    const gw = new RedisZoneMapSource({ redis: { url: redis.url }, idc: 'sh-1', gatewayId: 'gw-sh-1' });
    await gw.start();
    try {
      await store.reportGateway({
        id: 'gw-old',
        idc: 'sz-1',
        version: 3,
        at: new Date().toISOString(),
        appliedAt: new Date().toISOString(),
        host: 'h',
        pid: 1,
        from: 'redis',
      });
      const r = await zg('map', 'status');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /gw-sh-1\tsh-1\t5\tcurrent/);
      assert.match(r.stdout, /gw-old\tsz-1\t3\tbehind \(2 behind\)/);
      assert.match(r.stdout, /1 of 2 reporting gateways on version 5; lagging: gw-old \(3\)/);
    } finally {
      await gw.close();
      await store.forgetGateway('gw-old');
    }
  });

  it('city, zone weight, a no-op, the store from a gateway config, and pruning stale gateways', async () => {
    const city = await zg('city', 'drain', 'sz', '--dry-run');
    assert.equal(city.code, 0, city.stderr);
    assert.match(city.stdout, /city sz status up -> drain/);
    assert.match(city.stdout, /80-89 {2}rz08 -> rz04 {2}\[10\]/);
    const weight = await zg('zone', 'weight', 'rz00', '0', '--dry-run');
    assert.match(weight.stdout, /zone rz00 weight 100 -> 0/);
    assert.match(weight.stdout, /serving moves: 0 of 100 shards/);
    const noop = await zg('zone', 'up', 'rz03');
    assert.equal(noop.code, 0, noop.stderr);
    assert.match(noop.stdout, /nothing to change; nothing written/);
    assert.equal(await version(), 5);
    const cfg = join(dir, 'gateway.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        idc: 'hz-1',
        listeners: [{ name: 'h', protocol: 'http', port: 0 }],
        zonemap: { redis: { url: redis.url } },
      }),
    );
    const viaConfig = await runCli(['map', 'show', '-c', cfg, '--format', 'json']);
    assert.equal(viaConfig.code, 0, viaConfig.stderr);
    assert.equal((JSON.parse(viaConfig.stdout) as { version: number }).version, 5);
    const old = new Date(Date.now() - 60_000).toISOString();
    await store.reportGateway({
      id: 'gw-gone',
      idc: 'hz-1',
      version: 1,
      at: old,
      appliedAt: old,
      host: 'h',
      pid: 2,
      from: 'redis',
    });
    const pruned = await zg('map', 'status', '--prune');
    assert.match(pruned.stderr, /pruned 1 stale gateway report\(s\): gw-gone/);
    assert.equal(
      (await store.gateways()).some((g) => g.id === 'gw-gone'),
      false,
    );
  });

  it('map rollback recovers from an invalid map written straight into Redis', async () => {
    const keys = zoneMapKeys();
    await store.client.hset(keys.map, 'version', '6', 'json', '{"version": 6, "shards": "many"}');
    const show = await zg('map', 'show');
    assert.equal(show.code, 2);
    assert.match(show.stderr, /ZG_ERR_ZONEMAP_INVALID|invalid/);
    const r = await zg('map', 'rollback', '--reason', 'bad hand edit');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rollback to 5: version 6 -> 7/);
    const doc = await store.read();
    assert.equal(doc?.version, 7);
    assert.equal(doc?.shards, 100);
  });

  it('exits 1 when Redis cannot be reached and 2 when no store is named', async () => {
    const gone = await startRedis();
    await gone.stop();
    const r = await runCli(['map', 'show', '--redis', gone.url]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ZG_ERR_ZONEMAP_STORE_UNAVAILABLE/);
    const none = await runCli(['map', 'show'], { env: { ZONEGATE_REDIS_URL: undefined } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--redis URL/);
  });
});
