import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { Agent, request } from 'undici';

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
    // Keep-alive clients: the dangerous case is a request sent on a reused socket the server closes.
    const agent = new Agent({ connections: 8, keepAliveTimeout: 60_000 });
    const base = `http://127.0.0.1:${ports.http}`;
    let ok = 0;
    let refused = 0;
    const lost: string[] = [];
    let stop = false;
    let lastOkAt = 0;
    const client = async (): Promise<void> => {
      while (!stop) {
        try {
          const res = await request(`${base}/?delayMs=150`, { dispatcher: agent });
          await res.body.text();
          if (res.statusCode === 200) {
            ok++;
            lastOkAt = Date.now();
          } else lost.push(`status ${res.statusCode}`);
        } catch (err) {
          const code = (err as { code?: string }).code ?? String(err);
          // Refused at connect: never reached the gateway (LVS would have sent it elsewhere).
          if (code === 'ECONNREFUSED') {
            refused++;
            await sleep(20);
          } else lost.push(code);
        }
      }
    };
    const clients = Array.from({ length: 8 }, () => client());
    await sleep(300);
    const okBefore = ok;
    assert.ok(okBefore > 0, 'traffic flows before the drain');

    const termAt = Date.now();
    child.kill('SIGTERM');
    let healthFailedAt = 0;
    while (Date.now() - termAt < 2000) {
      const res = await request(`http://127.0.0.1:${ports.admin}/healthz`).catch(() => null);
      if (res !== null) await res.body.text();
      if (res?.statusCode === 503) {
        healthFailedAt = Date.now();
        break;
      }
      await sleep(10);
    }
    assert.ok(healthFailedAt > 0, '/healthz turned 503');
    assert.ok(healthFailedAt - termAt < 200, `healthz failed ${healthFailedAt - termAt} ms after SIGTERM`);

    const [code] = await exited;
    stop = true;
    await Promise.all(clients);
    await agent.close();
    assert.equal(code, 0, 'drain finished cleanly');
    assert.deepEqual(lost, [], 'no request lost');
    // Requests kept succeeding while /healthz already failed (the LVS delay window).
    assert.ok(
      lastOkAt - healthFailedAt >= 250,
      `served ${lastOkAt - healthFailedAt} ms after healthz failed`,
    );
    assert.ok(ok > okBefore);
    // Once the listener closed, new connections were refused (LVS has sent them elsewhere by then).
    assert.ok(refused > 0, 'listener closed after the delay');
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
