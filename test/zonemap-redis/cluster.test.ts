import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  RedisZoneMapSource,
  RedisZoneMapStore,
  type RedisStoreConfig,
} from '../../src/zonemap/stores/index.js';
import { runCli } from '../helpers/cli.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis.js';
import { docAt, mapVersion, servingZone, write } from './support.js';

describe('Redis Cluster: the same contract on three primaries', () => {
  let cluster: RedisCluster;
  let cfg: RedisStoreConfig;
  let source: RedisZoneMapSource | undefined;

  before(async () => {
    cluster = await startRedisCluster();
    cfg = { cluster: cluster.seeds, connectTimeoutMs: 2000 };
  });
  after(async () => {
    await source?.close();
    await cluster.stop();
  });

  it('writes atomically (one slot), keeps history, and a gateway follows a CLI flip', async () => {
    await write(cfg, docAt(1), null);
    source = new RedisZoneMapSource({ redis: cfg, idc: 'hz-1', gatewayId: 'gw-cluster' });
    assert.equal((await source.start()).version, 1);
    const flipped = mapVersion(source, 2);
    const r = await runCli([
      'zone',
      'down',
      'rz05',
      '--cluster',
      cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
      '--reason',
      'cluster drill',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(servingZone(await flipped, 55), 'rz07');
    const store = await RedisZoneMapStore.open(cfg, 'test');
    try {
      assert.deepEqual(
        (await store.history(5)).map((h) => h.version),
        [2, 1],
      );
      await assert.rejects(write(cfg, docAt(2), 1), { code: 'ZG_ERR_ZONEMAP_CONFLICT' });
    } finally {
      await store.close();
    }
  });
});
