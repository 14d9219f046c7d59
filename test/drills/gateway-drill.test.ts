import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisZoneMapStore, writeZoneMap, zoneMapKeys } from '../../src/zonemap/stores/index.js';
import { runCli } from '../helpers/cli.js';
import { startRedis, startTcpProxy, type RedisServer, type TcpProxy } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import {
  closeAgent,
  gatewayProcess,
  routedTo,
  routeOf,
  startUpstreams,
  type GatewayProcess,
  type Upstreams,
} from './fleet.js';

// uid 35 lives on shard 35: rz03 (hz-2), whose failover list is [rz01, rz07].
const UID = '35';

describe('drills against gateway processes following Redis', () => {
  let redis: RedisServer;
  // Gateways reach Redis through this proxy, so a test can cut them off while the CLI still writes.
  let proxy: TcpProxy;
  let upstreams: Upstreams;
  let store: RedisZoneMapStore;
  let dir: string;
  const gateways: GatewayProcess[] = [];
  const zg = (...args: string[]) => runCli([...args, '--redis', redis.url]);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zg-drill-'));
    redis = await startRedis({ persist: true });
    proxy = await startTcpProxy(redis.port);
    upstreams = await startUpstreams();
    store = await RedisZoneMapStore.open({ url: redis.url }, 'test');
    await writeZoneMap(store, upstreams.doc(1), null, {
      who: 't@h',
      reason: 'seed',
      action: 'seed',
      summary: '',
    });
    for (const [id, idc] of [
      ['gw-hz', 'hz-1'],
      ['gw-sh', 'sh-1'],
      ['gw-sz', 'sz-1'],
    ] as const) {
      gateways.push(await gatewayProcess({ id, idc, redisUrl: proxy.url, dir }));
    }
    await Promise.all(gateways.map((g) => g.start()));
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    closeAgent();
    await store.close();
    await upstreams.close();
    await proxy.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a CLI flip is followed by every gateway, and map status shows them all current', async () => {
    for (const g of gateways) assert.equal((await routeOf(g.port, UID)).zone, 'rz03', g.output());
    const r = await zg('zone', 'down', 'rz03', '--reason', 'drill');
    assert.equal(r.code, 0, r.stderr);
    for (const g of gateways) await routedTo(g.port, UID, 'rz01');
    const status = await zg('map', 'status', '--wait-ms', '3000');
    assert.equal(status.code, 0, status.stdout);
    assert.match(status.stdout, /3 of 3 reporting gateways on version 2/);
    const back = await zg('zone', 'up', 'rz03');
    assert.equal(back.code, 0, back.stderr);
    for (const g of gateways) await routedTo(g.port, UID, 'rz03');
  });

  it('zone down / up under steady traffic: users move to the standby and back, no request fails', async () => {
    const g = gateways[0]!;
    let sent = 0;
    let answered = 0;
    const failures: string[] = [];
    const served = new Map<string, number>();
    let running = true;
    const inflight = new Set<Promise<void>>();
    // ~200 requests/s over all 100 shards, while rz03 goes down and up twice.
    const timer = setInterval(() => {
      if (!running) return;
      const uid = String(sent++ % 100);
      const p = routeOf(g.port, uid).then((res) => {
        answered++;
        if (res.status !== 200) failures.push(`uid ${uid}: status ${res.status}`);
        if (uid === UID) served.set(res.zone, (served.get(res.zone) ?? 0) + 1);
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }, 5);
    // Each phase lasts until the traffic itself has seen it: a full round of the 100 uids
    // answered, the drill uid among them served by the zone of that phase.
    const phase = async (zone: string): Promise<void> => {
      const mark = answered;
      const seen = served.get(zone) ?? 0;
      await waitFor(
        `100 answers and uid ${UID} served by ${zone} in the steady traffic`,
        () => answered >= mark + 100 && (served.get(zone) ?? 0) > seen,
      );
    };
    try {
      for (let i = 0; i < 2; i++) {
        await phase('rz03');
        assert.equal((await zg('zone', 'down', 'rz03')).code, 0);
        await routedTo(g.port, UID, 'rz01');
        await phase('rz01');
        assert.equal((await zg('zone', 'up', 'rz03')).code, 0);
        await routedTo(g.port, UID, 'rz03');
      }
      await phase('rz03');
    } finally {
      running = false;
      clearInterval(timer);
      await Promise.all(inflight);
    }
    assert.deepEqual(failures, [], `${failures.length} of ${answered} requests failed`);
  });

  it('an invalid map written straight into Redis is refused by every gateway', async () => {
    const before = (await store.read())?.version ?? 0;
    const keys = zoneMapKeys();
    const bad = upstreams.doc(before + 1, (d) => (d.zones['rz03']!.failover = ['rz03']));
    await store.client.hset(keys.map, 'version', String(before + 1), 'json', JSON.stringify(bad));
    const refusals = (g: (typeof gateways)[number]): number =>
      g.output().split('zone map refused').length - 1;
    const seen = gateways.map(refusals);
    await store.client.publish(keys.channel, String(before + 1));
    // Each gateway logs the refusal (level warn, which these gateways log at).
    await waitFor('every gateway to log the refusal of the invalid map', () =>
      gateways.every((g, i) => refusals(g) > seen[i]!),
    );
    for (const g of gateways) assert.equal((await routeOf(g.port, UID)).status, 200);
    const reports = await store.gateways();
    assert.equal(reports.length, 3);
    for (const rep of reports) assert.equal(rep.version, before, `${rep.id} stays on the last good map`);
    // Put a good map back on top of the bad one.
    await writeZoneMap(store, upstreams.doc(before + 2), before + 1, {
      who: 't@h',
      reason: '',
      action: 'fix',
      summary: '',
    });
    await waitFor('all gateways on the fixed map', async () =>
      (await store.gateways()).every((r) => r.version === before + 2),
    );
  });

  it('with Redis killed gateways keep serving; a gateway restarted meanwhile serves its snapshot', async () => {
    const v = (await store.read())?.version ?? 0;
    await redis.kill();
    for (const g of gateways)
      assert.equal((await routeOf(g.port, UID)).zone, 'rz03', 'serving on the last good map');
    const g = gateways[1]!;
    await g.stop();
    await g.start();
    assert.equal((await routeOf(g.port, UID)).zone, 'rz03', 'started from its snapshot');
    await redis.restart();
    const r = await zg('zone', 'down', 'rz03', '--reason', 'after the outage');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`version ${v} -> ${v + 1}`));
    for (const gw of gateways) await routedTo(gw.port, UID, 'rz01');
  });

  it('gateways cut off from Redis catch up on a flip made meanwhile once they are reconnected', async () => {
    // A client of our own: the store's was closed when the previous test killed Redis.
    const admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const subscribers = async (): Promise<number> =>
      Number((await admin.pubsub('NUMSUB', zoneMapKeys().channel))[1]);
    try {
      await waitFor('every gateway to listen for changes', async () => (await subscribers()) === 3);
      proxy.cut();
      // Cut off as Redis sees it: no gateway is subscribed any more, so none can hear the flip.
      await waitFor("Redis to lose the gateways' subscriptions", async () => (await subscribers()) === 0);
    } finally {
      admin.disconnect();
    }
    const r = await zg('zone', 'up', 'rz03', '--reason', 'while they are cut off');
    assert.equal(r.code, 0, r.stderr);
    for (const g of gateways)
      assert.equal((await routeOf(g.port, UID)).zone, 'rz01', 'cut off: still the old map');
    proxy.restore();
    for (const g of gateways) await routedTo(g.port, UID, 'rz03');
  });
});
