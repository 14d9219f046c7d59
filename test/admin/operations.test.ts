import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import { subscribeMetrics } from '../../src/admin/http-metrics.js';
import { createMetrics } from '../../src/admin/metrics.js';
import { EventBus } from '../../src/core/events.js';
import { startOperations, type Operations } from '../../src/admin/operations.js';
import { FileZoneMapSource, ZoneMapHolder, type CompiledZoneMap } from '../../src/zonemap/index.js';
import { exampleDoc } from '../helpers/maps.js';

function sample(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('startOperations with a file zone map', () => {
  let dir: string;
  let mapFile: string;
  let ops: Operations;
  let source: FileZoneMapSource;
  const exits: number[] = [];
  const metrics = createMetrics();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zg-ops-'));
    mapFile = join(dir, 'map.json');
    await writeFile(join(dir, 'token'), 'tok\n');
    await writeFile(mapFile, JSON.stringify({ ...exampleDoc(), version: 3 }));
    source = new FileZoneMapSource({ path: mapFile, debounceMs: 10 });
    // What the runtime does: route by every new map the source hands over, publish applies and
    // refusals on the gateway's event bus, which the metrics subscriber counts.
    const events = new EventBus();
    subscribeMetrics(events, metrics, { listeners: [] });
    const holder = new ZoneMapHolder(await source.start(), events);
    source.on('map', (m: CompiledZoneMap) => holder.swap(m));
    source.on('invalid', (error: Error) => events.zonemap.publish({ type: 'refused', error }));
    ops = await startOperations({
      config: {
        idc: 'hz-1',
        admin: {
          enabled: true,
          host: '127.0.0.1',
          port: 0,
          tokenFile: join(dir, 'token'),
          allowUnauthenticatedRemote: false,
        },
        drain: { delayMs: 0, timeoutMs: 1000 },
      },
      holder,
      source,
      participants: [],
      reload: () => Promise.resolve({ reloaded: [] }),
      logger: pino({ level: 'silent' }),
      metrics,
      handleSignals: false,
      exit: (code) => exits.push(code),
    });
  });
  after(async () => {
    await ops.close();
    await source.close();
    await rm(dir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<string> => (await request(`${ops.admin!.url}/metrics`)).body.text();

  it('is ready with the loaded map and labels metrics with the IDC', async () => {
    const res = await request(`${ops.admin!.url}/readyz`);
    assert.deepEqual(await res.body.json(), { ready: true, zonemapVersion: 3 });
    assert.equal(sample(await scrape(), 'zonegate_zonemap_version'), 3);
    assert.match(await scrape(), /zonegate_zonemap_version\{idc="hz-1"\} 3/);
  });

  it('moves the version, apply count and last-apply time when the map file changes', async () => {
    const before = await scrape();
    const applied = once(source, 'map');
    await writeFile(mapFile, JSON.stringify({ ...exampleDoc(), version: 4 }));
    await applied;
    const text = await scrape();
    assert.equal(sample(text, 'zonegate_zonemap_version'), 4);
    assert.equal(
      sample(text, 'zonegate_zonemap_apply_seconds_count'),
      (sample(before, 'zonegate_zonemap_apply_seconds_count') ?? 0) + 1,
    );
    assert.ok(
      (sample(text, 'zonegate_zonemap_last_apply_timestamp_seconds') ?? 0) >=
        (sample(before, 'zonegate_zonemap_last_apply_timestamp_seconds') ?? 0),
    );
    const zm = (await (await request(`${ops.admin!.url}/zonemap`)).body.json()) as { version: number };
    assert.equal(zm.version, 4);
  });

  it('counts a refused map and keeps serving the last good one', async () => {
    const refused = once(source, 'invalid');
    await writeFile(mapFile, JSON.stringify({ ...exampleDoc(), version: 5, shards: -1 }));
    await refused;
    const text = await scrape();
    assert.equal(sample(text, 'zonegate_zonemap_invalid_total'), 1);
    assert.equal(sample(text, 'zonegate_zonemap_version'), 4);
  });

  it('drains and exits on an authorized POST /drain', async () => {
    const res = await request(`${ops.admin!.url}/drain`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok' },
    });
    assert.equal(res.statusCode, 202);
    await res.body.text();
    assert.equal((await request(`${ops.admin!.url}/healthz`)).statusCode, 503);
    while (exits.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(exits, [0]);
    assert.equal(sample(await scrape(), 'zonegate_draining'), 1);
  });
});
