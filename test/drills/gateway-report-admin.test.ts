/**
 * A gateway advertises its admin listener's URL in its report (where drills read its
 * metrics); in a cluster, every worker reports the primary's, the one admin listener there is.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedisZoneMapStore, writeZoneMap } from '../../src/zonemap/stores/index.js';
import { spawnGateway } from '../helpers/gateway-process.js';
import { exampleDoc } from '../helpers/maps.js';
import { freePort } from '../helpers/child-processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('gateway report: admin URL', () => {
  let redis: RedisServer;
  let store: RedisZoneMapStore;
  before(async () => {
    redis = await startRedis();
    store = await RedisZoneMapStore.open({ url: redis.url }, 'test');
    await writeZoneMap(store, exampleDoc(), null, {
      who: 't',
      reason: '',
      action: 'seed',
      summary: '',
    });
  });
  after(async () => {
    await store.close();
    await redis.stop();
  });

  it('every worker of a cluster reports the primary admin URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zg-report-'));
    const adminPort = await freePort();
    const cfg = join(dir, 'gw.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        idc: 'hz-1',
        listeners: [{ name: 'http', protocol: 'http', host: '127.0.0.1', port: await freePort() }],
        zonemap: { redis: { url: redis.url, snapshotFile: join(dir, 'snap.json'), reportIntervalMs: 200 } },
        admin: { enabled: true, host: '127.0.0.1', port: adminPort },
        drain: { delayMs: 0, timeoutMs: 2000 },
        logging: { level: 'warn' },
      }),
    );
    const gw = spawnGateway(['start', '-c', cfg, '--workers', '2']);
    try {
      await waitFor(
        'two worker reports with the admin URL',
        async () => {
          const reports = await store.gateways();
          return reports.length === 2 && reports.every((r) => r.admin !== undefined);
        },
        // Two workers under tsx start slowly on a loaded machine; this waits for the reports, not a time.
        60_000,
        100,
      );
      const reports = await store.gateways();
      assert.deepEqual(
        reports.map((r) => r.admin),
        [`http://127.0.0.1:${adminPort}`, `http://127.0.0.1:${adminPort}`],
      );
      const metrics = await fetch(`${reports[0]?.admin ?? ''}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^zonegate_zonemap_version\{idc="hz-1"\} 1$/m);
    } finally {
      await gw.stop();
    }
  });
});
