/**
 * The chart's preStop hook, as rendered, run against a real `zonegate start`: it must start
 * the drain with the mounted token and return after drain.delayMs, and a bad token must not
 * block the pod's termination.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { exec, freePort } from '../helpers/child-processes.js';
import { EXAMPLE_MAP_PATH } from '../helpers/maps.js';
import { spawnGateway } from '../helpers/gateway-process.js';
import { EXISTING_SECRETS, helmMerge, one, renderChart } from './chart-fixture.js';

const TOKEN_PATH = '/etc/zonegate/admin/token';

async function run(argv: readonly string[]): Promise<number> {
  return (await exec(argv[0] ?? '', argv.slice(1), { timeoutMs: 20_000 })).code;
}

async function healthz(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  await res.arrayBuffer();
  return res.status;
}

describe('chart preStop hook against a real gateway', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zonegate-prestop-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const TOKEN = 'prestop-test-admin-token-0123';

  /** A gateway config whose admin token is TOKEN, and the rendered hook reading `hookToken`. */
  async function setup(hookToken: string): Promise<{ adminPort: number; preStop: string[]; config: string }> {
    const adminPort = await freePort();
    const objects = renderChart(
      helmMerge(EXISTING_SECRETS, { admin: { port: adminPort }, drain: { delayMs: 800, timeoutMs: 3000 } }),
    );
    const c = (
      (one(objects, 'Deployment').spec as { template: { spec: { containers: Record<string, unknown>[] } } })
        .template.spec.containers[0] as { lifecycle: { preStop: { exec: { command: string[] } } } }
    ).lifecycle.preStop.exec.command;
    const tokenFile = join(dir, `token-${adminPort}`);
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const hookFile = join(dir, `hook-token-${adminPort}`);
    writeFileSync(hookFile, `${hookToken}\n`);
    // The one change: the Secret's mount path becomes a temp file (the pod mounts it there).
    assert.ok(c.join(' ').includes(TOKEN_PATH));
    const preStop = c.map((a) => a.replaceAll(TOKEN_PATH, hookFile));
    assert.equal(preStop[0], 'node');
    preStop[0] = process.execPath;
    const config = join(dir, `config-${adminPort}.yaml`);
    writeFileSync(
      config,
      [
        'idc: hz-1',
        `listeners: [{ name: http, protocol: http, host: 127.0.0.1, port: ${await freePort()} }]`,
        `zonemap: { file: ${JSON.stringify(EXAMPLE_MAP_PATH)} }`,
        'identity: { cookie: { keys: [{ id: k1, secret: prestop-test-cookie-secret-0123456789 }] } }',
        `admin: { host: 127.0.0.1, port: ${adminPort}, tokenFile: ${JSON.stringify(tokenFile)} }`,
        'drain: { delayMs: 800, timeoutMs: 3000 }',
      ].join('\n'),
    );
    return { adminPort, preStop, config };
  }

  it('with a wrong token returns and starts nothing; with the mounted token it starts the drain', async () => {
    const right = await setup(TOKEN);
    const wrong = right.preStop.map((a) =>
      a.replaceAll(`hook-token-${right.adminPort}`, `token-wrong-${right.adminPort}`),
    );
    writeFileSync(join(dir, `token-wrong-${right.adminPort}`), 'not-the-admin-token-0123456789\n');
    const gw = spawnGateway(['start', '-c', right.config]);
    try {
      // A bound, not a wait: start-up through tsx takes seconds on a loaded 2-core machine.
      await gw.waitFor(/gateway up/, 60_000);
      // A refused POST must not hold the pod: the kubelet goes on to SIGTERM after the hook.
      assert.equal(await run(wrong), 0);
      assert.equal(await healthz(right.adminPort), 200, 'not draining');
      const code = new Promise<number | null>((resolve) => gw.child.once('exit', resolve));
      assert.equal(await run(right.preStop), 0);
      await gw.waitFor(/drain: failing \/healthz/, 30_000);
      assert.equal(await code, 0, 'clean drain, no SIGTERM needed');
    } finally {
      await gw.stop();
    }
  });
});
