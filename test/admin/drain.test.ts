import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { steadyLoad, waitForHealthzFailure } from '../helpers/http-client.js';

interface Ports {
  readonly http: number;
  readonly admin: number;
}

async function startFixture(env: Record<string, string>): Promise<{ child: ChildProcess; ports: Ports }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/admin/fixtures/drain-server.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  return { child, ports: JSON.parse(line) as Ports };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('graceful drain on SIGTERM', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('fails /healthz first, keeps serving during the delay, loses no in-flight request, exits 0', async () => {
    const { child, ports } = await startFixture({ ZG_DRAIN_DELAY_MS: '400', ZG_DRAIN_TIMEOUT_MS: '5000' });
    children.push(child);
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    const load = steadyLoad(`http://127.0.0.1:${ports.http}/?delayMs=150`, 8);
    await sleep(300);
    const okBefore = load.ok;
    assert.ok(okBefore > 0, 'traffic flows before the drain');

    const termAt = Date.now();
    child.kill('SIGTERM');
    const healthFailedAt = await waitForHealthzFailure(`http://127.0.0.1:${ports.admin}`);
    assert.ok(healthFailedAt > 0, '/healthz turned 503');
    assert.ok(healthFailedAt - termAt < 200, `healthz failed ${healthFailedAt - termAt} ms after SIGTERM`);

    const [code] = await exited;
    await load.stop();
    assert.equal(code, 0, 'drain finished cleanly');
    assert.deepEqual(load.lost, [], 'no request lost');
    // Requests kept succeeding while /healthz already failed (the LVS delay window).
    assert.ok(
      load.lastOkAt - healthFailedAt >= 250,
      `served ${load.lastOkAt - healthFailedAt} ms after healthz failed`,
    );
    assert.ok(load.ok > okBefore);
    // Once the listener closed, new connections were refused (LVS has sent them elsewhere by then).
    assert.ok(load.refused > 0, 'listener closed after the delay');
  });

  it('cuts connections that outlive the drain timeout and still exits within the bound', async () => {
    const { child, ports } = await startFixture({ ZG_DRAIN_DELAY_MS: '0', ZG_DRAIN_TIMEOUT_MS: '300' });
    children.push(child);
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    const slow = request(`http://127.0.0.1:${ports.http}/?delayMs=10000`).then(
      () => 'answered',
      () => 'cut',
    );
    await sleep(100);
    const termAt = Date.now();
    child.kill('SIGTERM');
    const [code] = await exited;
    const took = Date.now() - termAt;
    assert.equal(code, 1, 'a drain that timed out exits 1');
    assert.ok(took < 2000, `exited after ${took} ms`);
    assert.equal(await slow, 'cut');
  });
});
