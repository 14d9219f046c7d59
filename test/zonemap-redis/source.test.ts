import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DocumentReadError, InvalidZoneMapError } from '../../src/core/errors.js';
import {
  RedisZoneMapSource,
  RedisZoneMapStore,
  ZoneMapStoreUnavailableError,
  zoneMapKeys,
} from '../../src/zonemap/stores/index.js';
import { startRedis, startTcpProxy, type RedisServer, type TcpProxy } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { docAt, mapVersion, servingZone, write } from './support.js';

describe('RedisZoneMapSource: a gateway following the shared map', () => {
  let redis: RedisServer;
  let dir: string;
  const sources: RedisZoneMapSource[] = [];
  const open = (
    url: string,
    extra: Partial<{ snapshotFile: string; gatewayId: string; pollIntervalMs: number }> = {},
  ): RedisZoneMapSource => {
    const s = new RedisZoneMapSource({
      redis: {
        url,
        pollIntervalMs: extra.pollIntervalMs ?? 60_000,
        reportIntervalMs: 200,
        connectTimeoutMs: 500,
      },
      idc: 'hz-1',
      gatewayId: extra.gatewayId ?? `gw-${sources.length}`,
      ...(extra.snapshotFile === undefined ? {} : { snapshotFile: extra.snapshotFile }),
    });
    sources.push(s);
    return s;
  };

  before(async () => {
    redis = await startRedis({ persist: true });
    dir = mkdtempSync(join(tmpdir(), 'zg-source-'));
    await write({ url: redis.url }, docAt(1), null);
  });
  after(async () => {
    for (const s of sources) await s.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts on the stored map and follows a flip, with the shard served by the standby', async () => {
    const source = open(redis.url);
    const first = await source.start();
    assert.equal(first.version, 1);
    assert.equal(servingZone(first, 35), 'rz03');
    const next = mapVersion(source, 2);
    await write(
      { url: redis.url },
      docAt(2, (d) => (d.zones['rz03']!.status = 'down')),
      1,
    );
    const m = await next;
    assert.equal(servingZone(m, 35), 'rz01', "rz03's users go to its first live standby");
  });

  it('refuses an invalid map written straight into Redis, keeps the last good one, then takes the next good one', async () => {
    const source = open(redis.url);
    await source.start();
    const base = source.map?.version ?? 0;
    const invalid = new Promise<InvalidZoneMapError | DocumentReadError>((resolve) =>
      source.once('invalid', resolve),
    );
    const keys = zoneMapKeys();
    const raw = await RedisZoneMapStore.open({ url: redis.url }, 'test');
    // rz05 claims rz04's shards: every shard must have exactly one owner.
    const bad = docAt(base + 1, (d) => (d.zones['rz05']!.shards = ['40-59']));
    await raw.client.hset(keys.map, 'version', String(base + 1), 'json', JSON.stringify(bad));
    await raw.client.publish(keys.channel, String(base + 1));
    const err = await invalid;
    assert.equal(err.code, 'ZG_ERR_ZONEMAP_INVALID');
    assert.match(err.message, /shard/);
    assert.equal(source.map?.version, base, 'still serving the last good map');
    assert.equal(source.stats().invalidCount, 1);
    // A not-even-JSON value is refused the same way.
    const notJson = new Promise<InvalidZoneMapError | DocumentReadError>((resolve) =>
      source.once('invalid', resolve),
    );
    await raw.client.hset(keys.map, 'version', String(base + 1), 'json', '{"version": ');
    await raw.client.publish(keys.channel, String(base + 1));
    assert.equal((await notJson).code, 'ZG_ERR_DOCUMENT_READ');
    assert.equal(source.map?.version, base);
    // The fix: a valid write on top of the bad one's version.
    const fixed = mapVersion(source, base + 2);
    await write({ url: redis.url }, docAt(base + 2), base + 1);
    assert.equal((await fixed).version, base + 2);
    await raw.close();
  });

  it('reports its version in the gateways hash', async () => {
    const source = open(redis.url, { gatewayId: 'gw-report' });
    const map = await source.start();
    const store = await RedisZoneMapStore.open({ url: redis.url }, 'test');
    await waitFor('the report', async () => (await store.gateways()).some((g) => g.id === 'gw-report'));
    const report = (await store.gateways()).find((g) => g.id === 'gw-report');
    assert.equal(report?.version, map.version);
    assert.equal(report?.idc, 'hz-1');
    assert.equal(report?.from, 'redis');
    await source.close();
    assert.equal(
      (await store.gateways()).some((g) => g.id === 'gw-report'),
      false,
      'removed on close',
    );
    await store.close();
  });

  it('survives a killed Redis on the last good map and catches up after it returns', async () => {
    const source = open(redis.url);
    const errors: Error[] = [];
    source.on('error', (e) => errors.push(e));
    const before = await source.start();
    await redis.kill();
    await waitFor('the source to notice', () => !source.stats().connected);
    assert.equal(source.map?.version, before.version, 'serving the last good map while Redis is gone');
    assert.ok(errors.length > 0, 'transport trouble is reported');
    await redis.restart();
    // Written right after the restart: the source learns of it by its reconnect read or the message.
    const flip = mapVersion(source, before.version + 1);
    await write(
      { url: redis.url },
      docAt(before.version + 1, (d) => (d.zones['rz07']!.status = 'drain')),
      before.version,
    );
    const m = await flip;
    assert.equal(servingZone(m, 75), 'rz05');
    const again = mapVersion(source, before.version + 2);
    await write({ url: redis.url }, docAt(before.version + 2), before.version + 1);
    await again;
  });

  it('catches up on a flip made while it was cut off (no message ever reaches it)', async () => {
    let proxy: TcpProxy | undefined;
    try {
      proxy = await startTcpProxy(redis.port);
      const source = open(proxy.url);
      const start = await source.start();
      proxy.cut();
      await waitFor('the source to notice the partition', () => !source.stats().connected);
      await write(
        { url: redis.url },
        docAt(start.version + 1, (d) => (d.zones['rz02']!.status = 'down')),
        start.version,
      );
      // No wait here: once cut, the proxy refuses every connection, so nothing is in flight.
      assert.equal(source.map?.version, start.version, 'cut off: still on the old map');
      const caughtUp = mapVersion(source, start.version + 1);
      proxy.restore();
      const m = await caughtUp;
      assert.equal(servingZone(m, 25), 'rz00');
      // Resubscribed too: the next flip arrives by message (the poll is a minute away here).
      const again = mapVersion(source, start.version + 2);
      await write({ url: redis.url }, docAt(start.version + 2), start.version + 1);
      await again;
    } finally {
      await proxy?.close();
    }
  });

  it('starts from the local snapshot while Redis is down, then follows Redis once it is back', async () => {
    const snapshotFile = join(dir, 'snap', 'zonemap.json');
    const first = open(redis.url, { snapshotFile });
    const served = await first.start();
    await first.close();
    await redis.kill();
    const second = open(redis.url, { snapshotFile, pollIntervalMs: 200 });
    const errors: Error[] = [];
    second.on('error', (e) => errors.push(e));
    const fromSnapshot = await second.start();
    assert.equal(fromSnapshot.version, served.version);
    assert.equal(second.stats().from, 'snapshot');
    // Told after start() resolves, so a listener attached then still hears about it.
    await new Promise((r) => setImmediate(r));
    assert.ok(errors.some((e) => e instanceof ZoneMapStoreUnavailableError));
    await redis.restart();
    const next = mapVersion(second, served.version + 1);
    await write({ url: redis.url }, docAt(served.version + 1), served.version);
    await next;
    assert.equal(second.stats().from, 'redis');
  });

  it('starts from the snapshot when the stored map is invalid, and says so once listeners are attached', async () => {
    const snapshotFile = join(dir, 'snap-invalid', 'zonemap.json');
    const first = open(redis.url, { snapshotFile });
    const good = await first.start();
    await first.close();
    const raw = await RedisZoneMapStore.open({ url: redis.url }, 'test');
    const keys = zoneMapKeys();
    const bad = docAt(good.version + 1, (d) => (d.zones['gz00']!.kind = 'czone'));
    await raw.client.hset(keys.map, 'version', String(good.version + 1), 'json', JSON.stringify(bad));
    const second = open(redis.url, { snapshotFile });
    const started = await second.start();
    const refused = await new Promise<InvalidZoneMapError | DocumentReadError>((resolve) =>
      second.once('invalid', resolve),
    );
    assert.equal(started.version, good.version);
    assert.equal(second.stats().from, 'snapshot');
    assert.equal(refused.code, 'ZG_ERR_ZONEMAP_INVALID');
    const fixed = mapVersion(second, good.version + 2);
    await write({ url: redis.url }, docAt(good.version + 2), good.version + 1);
    await fixed;
    await raw.close();
  });

  it('refuses to start with Redis down and no snapshot', async () => {
    const down = await startRedis();
    await down.kill();
    const source = open(down.url);
    await assert.rejects(source.start(), { code: 'ZG_ERR_ZONEMAP_STORE_UNAVAILABLE' });
    await down.stop();
  });
});
