import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisZoneMapSource, type RedisStoreConfig } from '../../src/zonemap/stores/index.js';
import { runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { SENTINEL_MASTER_NAME, startSentinelSetup, type SentinelSetup } from '../helpers/sentinel.js';
import { docAt, mapVersion, servingZone, write } from './support.js';

// docs/zonemap-redis.md (Sentinel failover): back on the new primary, map re-read, within about
// 2 s of the switch. The deadline is generous for a loaded machine and still far below "never".
const DOCUMENTED_FAILOVER_BOUND_MS = 10_000;

/** The gateway's store config for `setup`: the sentinels, asked for the primary by name. */
function storeConfig(setup: SentinelSetup): RedisStoreConfig {
  return {
    sentinels: setup.sentinels.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })),
    name: SENTINEL_MASTER_NAME,
    connectTimeoutMs: 1000,
    pollIntervalMs: 500,
  };
}

/**
 * For one suite (its test kills the primary, so no suite shares a setup): a primary, a replica
 * and sentinels, and `follow`, a gateway's source started on map version 1 (closed after).
 */
function sentinelSuite(): {
  readonly setup: () => SentinelSetup;
  readonly cfg: () => RedisStoreConfig;
  follow(gatewayId: string): Promise<RedisZoneMapSource>;
} {
  let setup: SentinelSetup;
  let cfg: RedisStoreConfig;
  let source: RedisZoneMapSource | undefined;
  before(async () => {
    setup = await startSentinelSetup();
    cfg = storeConfig(setup);
  });
  after(async () => {
    await source?.close();
    await setup.stop();
  });
  return {
    setup: () => setup,
    cfg: () => cfg,
    async follow(gatewayId) {
      await write(cfg, docAt(1), null);
      source = new RedisZoneMapSource({ redis: cfg, idc: 'hz-1', gatewayId });
      await source.start();
      return source;
    },
  };
}

describe('Sentinel: the primary fails over', () => {
  const suite = sentinelSuite();

  it('a gateway keeps its map through the failover and follows a flip written to the new primary', async () => {
    const setup = suite.setup();
    const source = await suite.follow('gw-sentinel');
    assert.equal(source.map?.version, 1);
    const oldPrimary = setup.primary.port;
    await setup.primary.kill();
    await waitFor(
      'the sentinels to promote the replica',
      async () => (await setup.currentPrimaryPort()) === setup.replica.port,
      20_000,
      100,
    );
    assert.notEqual(await setup.currentPrimaryPort(), oldPrimary);
    assert.equal(source.map?.version, 1, 'served the last good map throughout');
    const flipped = mapVersion(source, 2);
    // The CLI finds the new primary through the sentinels, like the gateway does.
    const r = await runCli([
      'zone',
      'down',
      'rz08',
      '--sentinels',
      setup.sentinels.join(','),
      '--sentinel-name',
      SENTINEL_MASTER_NAME,
      '--reason',
      'failover drill',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = await flipped;
    assert.equal(servingZone(m, 85), 'rz09');
  });
});

describe('Sentinel: the switch is announced while the gateway is busy', () => {
  const suite = sentinelSuite();

  it('reaches the new primary and follows a map written right after the switch', async () => {
    const setup = suite.setup();
    const cfg = suite.cfg();
    const source = await suite.follow('gw-busy');
    await setup.primary.kill();
    // A gateway whose event loop is busy (a burst of traffic, a long GC, a config reload) handles
    // a due reconnect and the sentinels' +switch-master in the same turn. Blocking this process
    // in slices longer than the longest reconnect back-off (500 ms) makes that the common case:
    // each turn starts a reconnect (asking a sentinel for the primary) and then reads whatever
    // arrived meanwhile, so the announcement lands while that question is in flight.
    let switched = false;
    const promoted = waitFor(
      'the sentinels to promote the replica',
      async () => (await setup.currentPrimaryPort()) === setup.replica.port,
      30_000,
      100,
    ).finally(() => (switched = true));
    const slice = new Int32Array(new SharedArrayBuffer(4));
    while (!switched) {
      Atomics.wait(slice, 0, 0, 600);
      await new Promise((r) => setImmediate(r));
    }
    await promoted;
    const flipped = mapVersion(source, 2, DOCUMENTED_FAILOVER_BOUND_MS);
    await write(cfg, docAt(2), 1);
    assert.equal((await flipped).version, 2);
    assert.equal(source.stats().connected, true);
  });
});
