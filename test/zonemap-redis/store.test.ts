import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  RedisZoneMapStore,
  ZoneMapConflictError,
  writeZoneMap,
  zoneMapKeys,
} from '../../src/zonemap/stores/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { docAt } from './support.js';

describe('RedisZoneMapStore: the compare-and-set write', () => {
  let redis: RedisServer;
  let a: RedisZoneMapStore;
  let b: RedisZoneMapStore;

  before(async () => {
    redis = await startRedis();
    a = await RedisZoneMapStore.open({ url: redis.url }, 'sre-a');
    b = await RedisZoneMapStore.open({ url: redis.url }, 'sre-b');
  });
  after(async () => {
    await a.close();
    await b.close();
    await redis.stop();
  });

  it('lets exactly one of two concurrent writers win; the loser learns both versions and changes nothing', async () => {
    await writeZoneMap(a, docAt(1), null, { who: 'a@h', reason: 'seed', action: 'seed', summary: '' });
    // Both SREs read version 1 and write version 2 at the same moment.
    const results = await Promise.allSettled([
      writeZoneMap(
        a,
        docAt(2, (d) => (d.zones['rz03']!.status = 'down')),
        1,
        {
          who: 'a@h',
          reason: 'a',
          action: 'zone down rz03',
          summary: '',
        },
      ),
      writeZoneMap(
        b,
        docAt(2, (d) => (d.zones['rz04']!.status = 'down')),
        1,
        {
          who: 'b@h',
          reason: 'b',
          action: 'zone down rz04',
          summary: '',
        },
      ),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    const err = lost[0]?.reason as unknown;
    assert.ok(err instanceof ZoneMapConflictError);
    assert.equal(err.code, 'ZG_ERR_ZONEMAP_CONFLICT');
    assert.equal(err.expected, 1);
    assert.equal(err.actual, 2);
    assert.match(err.message, /based on version 1.*now holds version 2/);
    const stored = await a.read();
    assert.equal(stored?.version, 2);
    const downs = ['rz03', 'rz04'].filter((z) => stored?.zones[z]?.status === 'down');
    assert.equal(downs.length, 1, "only the winner's change is in the map");
    const history = await a.history(10);
    assert.deepEqual(
      history.map((h) => h.version),
      [2, 1],
      'one history entry per successful write, none for the loser',
    );
  });

  it('refuses a first write when a map already exists, and any write based on a missing version', async () => {
    await assert.rejects(
      writeZoneMap(a, docAt(1), null, { who: 'a@h', reason: '', action: 'seed', summary: '' }),
      (e: unknown) => e instanceof ZoneMapConflictError && e.expected === null && e.actual === 2,
    );
  });

  it('refuses an invalid map before it reaches Redis', async () => {
    const bad = docAt(3, (d) => (d.zones['rz00']!.failover = ['rz00']));
    await assert.rejects(writeZoneMap(a, bad, 2, { who: 'a@h', reason: '', action: 'bad', summary: '' }), {
      code: 'ZG_ERR_ZONEMAP_INVALID',
    });
    assert.equal((await a.read())?.version, 2);
  });

  it('keeps who, when, why and what in the history, with the map of each version', async () => {
    await writeZoneMap(
      a,
      docAt(3, (d) => (d.zones['rz00']!.weight = 0)),
      2,
      {
        who: 'alice@bastion',
        reason: 'drain traffic before maintenance',
        action: 'zone weight rz00 0',
        summary: 'zone rz00 weight 100 -> 0',
      },
    );
    const [latest] = await b.history(1);
    assert.equal(latest?.version, 3);
    assert.equal(latest?.previous, 2);
    assert.equal(latest?.who, 'alice@bastion');
    assert.equal(latest?.reason, 'drain traffic before maintenance');
    assert.equal(latest?.action, 'zone weight rz00 0');
    assert.equal(latest?.summary, 'zone rz00 weight 100 -> 0');
    assert.ok(Math.abs(Date.parse(latest?.at ?? '') - Date.now()) < 10_000);
    const v2 = await b.historyDoc(2);
    assert.equal(v2.doc.version, 2);
    assert.equal(v2.doc.zones['rz00']?.weight, 100);
    await assert.rejects(b.historyDoc(99), { code: 'ZG_ERR_ZONEMAP_VERSION_NOT_FOUND' });
  });

  it('publishes the new version on the change channel', async () => {
    const sub = await RedisZoneMapStore.open({ url: redis.url }, 'sub');
    const keys = zoneMapKeys();
    const got = new Promise<string>((resolve) =>
      sub.client.on('message', (_ch: string, msg: string) => resolve(msg)),
    );
    await sub.client.subscribe(keys.channel);
    await writeZoneMap(a, docAt(4), 3, { who: 'a@h', reason: '', action: 'x', summary: '' });
    assert.equal(await got, '4');
    sub.client.disconnect();
  });
});
