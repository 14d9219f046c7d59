/**
 * The drill console end to end: a real redis-server, gateway processes following it (admin
 * listener on, scraped for metrics), `zonegate console`, and Debian's chromium driven by
 * playwright-core. The page must agree with the store, run a zone down with its dry run and a
 * reason, show the fleet moving to the new version, roll back, and refuse changes without
 * the token or from another origin. Screenshots land in docs/ for the README.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { compileZoneMap, validateZoneMap, type CompiledZoneMap } from '../../src/zonemap/index.js';
import { RedisZoneMapStore, writeZoneMap } from '../../src/zonemap/stores/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { closeAgent, routeOf, startUpstreams, type Upstreams } from '../drills/fleet.js';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  chromiumMissing,
  startConsole,
  startGateway,
  type ConsoleProcess,
  type Gateway,
} from './support.js';

const skip = chromiumMissing();
if (skip !== false) console.log(`# ${skip}`);

const TOKEN = 'console-test-token-0123456789';
// A Redis ACL user with a password: the console connects with it and must never show it.
const REDIS_PASSWORD = 'redis-pw-must-not-leak';
// The screenshots in docs/console.md: rewritten only when asked (ZG_UPDATE_SCREENSHOTS=1), so a
// test run leaves the working tree clean; otherwise they go to the run's temp folder.
const updateScreenshots = process.env['ZG_UPDATE_SCREENSHOTS'] === '1';
const shot = (name: string, tmp: string): string =>
  join(updateScreenshots ? join(REPO_ROOT, 'docs') : tmp, name);

/** Which zone serves each shard, as a gateway compiles the stored map. */
async function servingFromStore(
  store: RedisZoneMapStore,
): Promise<{ version: number; serving: string[]; map: CompiledZoneMap }> {
  const doc = await store.read();
  assert.ok(doc !== null);
  const v = validateZoneMap(doc);
  assert.ok(v.ok);
  const map = compileZoneMap(v.doc);
  const serving: string[] = [];
  for (let s = 0; s < map.shards; s++) {
    const owner = map.zones[map.shardOwner[s] ?? -1];
    serving.push(owner === undefined ? '' : (map.zones[owner.serving]?.name ?? ''));
  }
  return { version: map.version, serving, map };
}

/** `attr` of every element matching `selector`, in document order (evaluated in the page). */
function attrs(page: Page, selector: string, attr: string): Promise<string[]> {
  return page.evaluate<string[]>(
    `[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => e.getAttribute(${JSON.stringify(attr)}) ?? '')`,
  );
}

/** Waits until the fleet table lists `count` gateways, all on `version`. */
async function fleetOn(page: Page, count: number, version: number): Promise<void> {
  await waitFor(
    `${count} gateways on v${version} in the page`,
    async () => {
      const versions = await attrs(page, 'tr[data-gateway]', 'data-version');
      return versions.length === count && versions.every((v) => v === String(version));
    },
    30_000,
    50,
  );
}

async function gridOf(page: Page): Promise<string[]> {
  return attrs(page, 'ol.grid li.cell', 'data-zone');
}

describe('drill console in chromium', { skip }, () => {
  let redis: RedisServer;
  let upstreams: Upstreams;
  let store: RedisZoneMapStore;
  let dir: string;
  const gateways: Gateway[] = [];
  let consoleProc: ConsoleProcess;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    // The page is bundled by `npm run build`; build it here too so this file runs on its own.
    const built = spawnSync(process.execPath, ['scripts/build-console.mjs'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, built.stderr);
    dir = mkdtempSync(join(tmpdir(), 'zg-console-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    redis = await startRedis({
      args: ['--user', 'console', 'on', `>${REDIS_PASSWORD}`, '~*', '&*', '+@all'],
    });
    upstreams = await startUpstreams();
    store = await RedisZoneMapStore.open({ url: redis.url }, 'test');
    await writeZoneMap(store, upstreams.doc(1), null, {
      who: 'seed@test',
      reason: 'seed',
      action: 'seed',
      summary: '',
    });
    const started = await Promise.all(
      [
        ['gw-hz', 'hz-1'],
        ['gw-sh', 'sh-1'],
      ].map(([id, idc]) => startGateway({ id: id as string, idc: idc as string, redisUrl: redis.url, dir })),
    );
    gateways.push(...started);
    consoleProc = await startConsole([
      '--redis',
      `redis://console:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`,
      '--gateways',
      gateways.map((g) => g.adminUrl).join(','),
      '--token-file',
      join(dir, 'token'),
      '--refresh-ms',
      '300',
    ]);
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 720 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close();
    await consoleProc?.stop();
    await Promise.all(gateways.map((g) => g.stop()));
    closeAgent();
    await store?.close();
    await upstreams?.close();
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('shows every shard coloured by the zone the store says serves it, and the fleet on its version', async () => {
    await page.goto(`${consoleProc.url}/`);
    const want = await servingFromStore(store);
    await page.waitForSelector(`ol.grid li.cell[data-shard="${want.map.shards - 1}"]`);
    assert.deepEqual(await gridOf(page), want.serving);
    // Every gateway that reports is listed, on the store's version.
    const ids = (await store.gateways()).map((g) => g.id).sort();
    assert.equal(ids.length, 2);
    await fleetOn(page, 2, want.version);
    const shown = await attrs(page, 'tr[data-gateway]', 'data-gateway');
    assert.deepEqual(shown.sort(), ids);
    // Live traffic through a gateway shows up per zone (from its /metrics), without a reload.
    for (let i = 0; i < 20; i++) assert.equal((await routeOf(gateways[0]!.port, '35')).zone, 'rz03');
    await page.waitForSelector('tr[data-stats-zone="rz03"]');
    await page.screenshot({ path: shot('console-overview.png', dir) });
    // Never a credential: the Redis password is nowhere in the page or its API.
    assert.ok(!(await page.content()).includes(REDIS_PASSWORD));
    const state = await (await fetch(`${consoleProc.url}/api/state`)).text();
    assert.ok(!state.includes(REDIS_PASSWORD));
    assert.ok(state.includes('redis://console@127.0.0.1'), 'the store is named, without its password');
  });

  it('runs zone down rz03 from the page: dry run, reason, applied; grid and gateways follow', async () => {
    await page.fill('#operator', 'alice');
    await page.fill('#token', TOKEN);
    // By keyboard: focus the button, Enter; the focus moves to the change panel.
    await page.focus('button[data-action="zone down rz03"]');
    await page.keyboard.press('Enter');
    const dry = await page.waitForSelector('#dry-run-result[data-action="zone down rz03"]');
    assert.equal(await page.evaluate<string>('document.activeElement?.id ?? ""'), 'action-h');
    const text = await dry.innerText();
    assert.match(text, /10 of 100/);
    assert.match(text, /30-39\s+rz03 → rz01/);
    // Nothing is written by a dry run.
    assert.equal((await store.read())?.version, 1);
    await page.fill('#reason', 'drill: hz-2 rz03 down');
    await page.screenshot({ path: shot('console-dry-run.png', dir) });
    // Enter in the reason field submits: applying needs no mouse either.
    await page.press('#reason', 'Enter');
    await page.waitForSelector('#apply-result.ok');
    assert.match(await page.innerText('#apply-result'), /written: v2 \(was v1\) by alice@/);
    // The store holds what `zonegate zone down rz03 --reason ...` would have written.
    const [entry] = await store.history(1);
    assert.equal(entry?.version, 2);
    assert.equal(entry?.action, 'zone down rz03');
    assert.equal(entry?.who, `alice@${hostname()}`);
    assert.equal(entry?.reason, 'drill: hz-2 rz03 down');
    assert.match(entry?.summary ?? '', /zone rz03 status up -> down; 30-39 rz03->rz01/);
    // The grid shows shard 35 on rz01, marked as served by a standby; the fleet moves to v2.
    const want = await servingFromStore(store);
    await page.waitForSelector('li.cell[data-shard="35"][data-zone="rz01"].standby');
    assert.deepEqual(await gridOf(page), want.serving);
    await fleetOn(page, 2, 2);
    await waitFor(
      'uid 35 to reach rz01',
      async () => (await routeOf(gateways[0]!.port, '35')).zone === 'rz01',
    );
    await page.screenshot({ path: shot('console-after-down.png', dir) });
  });

  it('rolls back from the history with its diff, as `map rollback 1` would', async () => {
    await page.click('button[data-rollback="1"]');
    const dry = await page.waitForSelector('#dry-run-result[data-action="rollback to 1"]');
    assert.match(await dry.innerText(), /30-39\s+rz01 → rz03/);
    await page.fill('#reason', 'drill over');
    await page.click('#apply');
    await page.waitForSelector('#apply-result.ok');
    const [entry] = await store.history(1);
    assert.equal(entry?.action, 'rollback to 1');
    assert.equal(entry?.version, 3);
    await page.waitForSelector('li.cell[data-shard="35"][data-zone="rz03"]:not(.standby)');
    // The history lists the down with its diff line.
    const v2 = await page.innerText('ol.history li[data-version="2"]');
    assert.match(v2, /zone rz03 status up -> down/);
    await fleetOn(page, 2, 3);
    await waitFor(
      'uid 35 back on rz03',
      async () => (await routeOf(gateways[0]!.port, '35')).zone === 'rz03',
    );
  });

  it('refuses a change without the token, with a wrong one, from another origin, or not as JSON', async () => {
    const body = JSON.stringify({
      action: { kind: 'status', noun: 'zone', name: 'rz05', status: 'down' },
      expected: 3,
      reason: 'x',
      operator: 'mallory',
    });
    const post = (headers: Record<string, string>) =>
      fetch(`${consoleProc.url}/api/apply`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const noToken = await post({});
    assert.equal(noToken.status, 401);
    assert.equal(
      ((await noToken.json()) as { error: { code: string } }).error.code,
      'ZG_ERR_ADMIN_UNAUTHORIZED',
    );
    assert.equal((await post({ authorization: 'Bearer wrong' })).status, 401);
    const cross = await post({ authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' });
    assert.equal(cross.status, 403);
    assert.equal(
      ((await cross.json()) as { error: { code: string } }).error.code,
      'ZG_ERR_CONSOLE_FORBIDDEN',
    );
    const form = await fetch(`${consoleProc.url}/api/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${TOKEN}` },
      body: 'a=b',
    });
    assert.equal(form.status, 415);
    // From the page itself, without the token: the browser's own request is refused too.
    const status = await page.evaluate(async (b) => {
      const r = await fetch('/api/apply', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: b,
      });
      return r.status;
    }, body);
    assert.equal(status, 401);
    // Another origin in the same browser (the console under the name localhost is a different
    // origin from 127.0.0.1): the JSON POST with the token dies in the CORS preflight, which the
    // console never grants, and a simple cross-site POST is refused by the Origin check.
    const other = await context.newPage();
    await other.goto(`${consoleProc.url.replace('127.0.0.1', 'localhost')}/`);
    const target = `${consoleProc.url}/api/apply`;
    const crossSite = await other.evaluate<{ json: string; simple: string }>(`(async () => {
      const out = {};
      try {
        await fetch(${JSON.stringify(target)}, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ${TOKEN}' }, body: ${JSON.stringify(body)} });
        out.json = 'sent';
      } catch { out.json = 'blocked'; }
      try {
        await fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(body)} });
        out.simple = 'sent';
      } catch { out.simple = 'blocked'; }
      return out;
    })()`);
    await other.close();
    assert.equal(crossSite.json, 'blocked');
    // A DNS-rebound name for the loopback console is refused even for reading.
    const rebound = await new Promise<number>((resolve, reject) => {
      http
        .get(`${consoleProc.url}/api/state`, { headers: { host: 'attacker.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(rebound, 403);
    assert.equal((await store.read())?.version, 3, 'nothing was written');
    assert.equal((await store.history(1))[0]?.who.startsWith('alice@'), true);
  });
});
