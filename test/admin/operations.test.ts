/**
 * The composition root in-process (runGatewayProcess, what `zonegate start` runs): the zone
 * map metrics follow the map file, a refused map is counted, and POST /drain drains, tears the
 * process down and exits.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import { createMetrics } from '../../src/admin/metrics.js';
import { main } from '../../src/cli/main.js';
import { validateConfig } from '../../src/core/config.js';
import { runGatewayProcess, type GatewayProcess } from '../../src/gateway/process.js';
import { jsonLineSink } from '../helpers/log-lines.js';
import { exampleDoc } from '../helpers/maps.js';

function sample(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('runGatewayProcess with a file zone map', () => {
  let dir: string;
  let mapFile: string;
  let gw: Exclude<GatewayProcess, { role: 'primary' }>;
  let exited: Promise<number>;
  const metrics = createMetrics();
  const logLines: { msg?: string }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zg-ops-'));
    mapFile = join(dir, 'map.json');
    await writeFile(join(dir, 'token'), 'tok\n');
    await writeFile(mapFile, JSON.stringify({ ...exampleDoc(), version: 3 }));
    const config = validateConfig({
      idc: 'hz-1',
      listeners: [{ name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' }],
      zonemap: { file: mapFile },
      upstream: { healthCheck: { enabled: false } },
      admin: { host: '127.0.0.1', port: 0, tokenFile: join(dir, 'token') },
      drain: { delayMs: 0, timeoutMs: 1000 },
    });
    let onExit: (code: number) => void = () => undefined;
    exited = new Promise((resolve) => {
      onExit = resolve;
    });
    const p = await runGatewayProcess({
      config,
      workers: 1,
      logger: pino({ level: 'info' }, jsonLineSink(logLines)),
      metrics,
      handleSignals: false,
      exit: onExit,
    });
    if (p.role === 'primary') throw new Error('one process was asked for');
    gw = p;
  });
  after(async () => {
    await gw.close();
    await rm(dir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<string> => (await request(`${gw.admin!.url}/metrics`)).body.text();

  it('is ready with the loaded map and labels metrics with the IDC', async () => {
    const res = await request(`${gw.admin!.url}/readyz`);
    assert.deepEqual(await res.body.json(), { ready: true, zonemapVersion: 3 });
    assert.equal(sample(await scrape(), 'zonegate_zonemap_version'), 3);
    assert.match(await scrape(), /zonegate_zonemap_version\{idc="hz-1"\} 3/);
  });

  it('moves the version, apply count and last-apply time when the map file changes', async () => {
    const before = await scrape();
    const applied = once(gw.gateway.holder, 'change');
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
    const zm = (await (await request(`${gw.admin!.url}/zonemap`)).body.json()) as { version: number };
    assert.equal(zm.version, 4);
    // One fact, one line: the process logs the apply (with its latency), the stages do not.
    assert.equal(logLines.filter((l) => l.msg === 'zone map applied').length, 1);
  });

  it('counts a refused map and keeps serving the last good one', async () => {
    const before = sample(await scrape(), 'zonegate_zonemap_invalid_total') ?? 0;
    // The process counts on the same event, with a listener added before this one.
    const refused = once(gw.gateway.source, 'invalid');
    await writeFile(mapFile, JSON.stringify({ ...exampleDoc(), version: 5, shards: -1 }));
    await refused;
    const text = await scrape();
    assert.equal(sample(text, 'zonegate_zonemap_invalid_total'), before + 1);
    assert.equal(sample(text, 'zonegate_zonemap_version'), 4);
  });

  it('drains, tears down and exits 0 on an authorized POST /drain', async () => {
    const admin = gw.admin!.url;
    const res = await request(`${admin}/drain`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok' },
    });
    assert.equal(res.statusCode, 202);
    await res.body.text();
    assert.equal(gw.drain.draining, true);
    assert.equal(sample(await metrics.registry.metrics(), 'zonegate_draining'), 1);
    assert.equal(await exited, 0);
    // Torn down before exit: the admin port no longer answers.
    await assert.rejects(request(`${admin}/healthz`), /ECONNREFUSED/);
  });
});

describe('zonegate start with an idc the zone map does not know', () => {
  it('exits 2 with the reason, like every config error, and no stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zg-idc-'));
    try {
      const mapFile = join(dir, 'map.json');
      await writeFile(mapFile, JSON.stringify(exampleDoc()));
      const configFile = join(dir, 'config.json');
      await writeFile(
        configFile,
        JSON.stringify({
          idc: 'nowhere-1',
          listeners: [{ name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' }],
          zonemap: { file: mapFile },
          admin: { enabled: false },
          logging: { level: 'silent' },
        }),
      );
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['start', '-c', configFile], {
        out: (t) => out.push(t),
        err: (t) => err.push(t),
      });
      assert.equal(code, 2);
      const text = err.join('\n');
      assert.match(text, /^zonegate start: config is invalid \(1 problem\)/);
      assert.match(text, /the config's idc nowhere-1 is not in zone map version 1 \(it has hz-1, /);
      assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
      assert.deepEqual(out, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
