/**
 * What the console tests start: gateway processes with their admin listener on (the console
 * scrapes their /metrics), the console itself as `zonegate console`, and Debian's chromium
 * driven by playwright-core (never a downloaded browser).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConsoleServer, type ConsoleServer, type ConsoleTlsFiles } from '../../src/console/index.js';
import { RedisZoneMapStore, writeZoneMap } from '../../src/zonemap/stores/index.js';
import { REPO_ROOT, spawnZonegate } from '../helpers/cli.js';
import { exampleDoc } from '../helpers/maps.js';
import { freePort, stopChild } from '../helpers/child-processes.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { routeOf } from '../drills/fleet.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumMissing(): string | false {
  return existsSync(CHROMIUM)
    ? false
    : `${CHROMIUM} is not installed (apt-get install chromium); browser tests skipped`;
}

/**
 * A bound, not a sleep: the wait ends as soon as the process answers. A cold `tsx` start of
 * the gateway takes a second on an idle machine but over 20 s on a CI machine shared by
 * many test processes, so the bound is generous.
 */
const START_DEADLINE_MS = 60_000;

export interface Child {
  readonly output: () => string;
  stop(): Promise<void>;
}

function zonegate(args: readonly string[]): {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
} {
  const child = spawnZonegate(args);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return { child, output: () => out, stop: () => stopChild(child) };
}

export interface Gateway extends Child {
  readonly id: string;
  readonly port: number;
  readonly adminUrl: string;
}

/** `zonegate start` following Redis, with an HTTP listener and the admin listener. */
export async function startGateway(o: {
  id: string;
  idc: string;
  redisUrl: string;
  dir: string;
}): Promise<Gateway> {
  const port = await freePort();
  const adminPort = await freePort();
  const config = join(o.dir, `${o.id}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      idc: o.idc,
      listeners: [{ name: 'http', protocol: 'http', host: '127.0.0.1', port }],
      zonemap: {
        redis: {
          url: o.redisUrl,
          snapshotFile: join(o.dir, `${o.id}-snapshot.json`),
          connectTimeoutMs: 500,
          reportIntervalMs: 300,
        },
      },
      admin: { enabled: true, host: '127.0.0.1', port: adminPort },
      drain: { delayMs: 0, timeoutMs: 2000 },
      logging: { level: 'warn' },
    }),
  );
  const z = zonegate(['start', '-c', config]);
  await waitFor(
    `gateway ${o.id} to answer`,
    async () => {
      if (z.child.exitCode !== null) throw new Error(`gateway ${o.id} exited:\n${z.output()}`);
      return (await routeOf(port, '0')).status > 0;
    },
    START_DEADLINE_MS,
    100,
  );
  return { id: o.id, port, adminUrl: `http://127.0.0.1:${adminPort}`, output: z.output, stop: z.stop };
}

export interface ConsoleProcess extends Child {
  readonly url: string;
}

/** `zonegate console ARGS --port 0`; resolves with the URL it prints. */
export async function startConsole(args: readonly string[]): Promise<ConsoleProcess> {
  const z = zonegate(['console', '--port', '0', ...args]);
  let url = '';
  await waitFor(
    'the console to print its URL',
    () => {
      if (z.child.exitCode !== null) throw new Error(`console exited ${z.child.exitCode}:\n${z.output()}`);
      const m = /console: (https?:\/\/[^/\s]+)\//.exec(z.output());
      if (m?.[1] !== undefined) url = m[1];
      return url !== '';
    },
    START_DEADLINE_MS,
    50,
  );
  return { url, output: z.output, stop: z.stop };
}

export interface InProcessConsole {
  readonly server: ConsoleServer;
  readonly store: RedisZoneMapStore;
  close(): Promise<void>;
}

/**
 * A redis-server seeded with the example map (version 1) and a console on it in this
 * process, with its own copy of the page (another test file may be rebuilding
 * dist/console-web meanwhile).
 */
export async function startInProcessConsole(o: {
  readonly tls: ConsoleTlsFiles | null;
  readonly token: string | null;
}): Promise<InProcessConsole> {
  const dir = mkdtempSync(join(tmpdir(), 'zg-console-'));
  const built = spawnSync(process.execPath, ['scripts/build-console.mjs', join(dir, 'web')], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`building the console page failed:\n${built.stderr}`);
  if (o.token !== null) writeFileSync(join(dir, 'token'), o.token);
  const redis = await startRedis();
  const store = await RedisZoneMapStore.open({ url: redis.url }, 'test');
  await writeZoneMap(store, { ...exampleDoc(), version: 1 }, null, {
    who: 't@h',
    reason: 'seed',
    action: 'seed',
    summary: '',
  });
  const server = await startConsoleServer({
    store,
    host: '127.0.0.1',
    port: 0,
    tokenFile: o.token === null ? null : join(dir, 'token'),
    tls: o.tls,
    gateways: [],
    refreshMs: 1000,
    staleMs: 15_000,
    maxMovePercent: 25,
    assetsDir: join(dir, 'web'),
  });
  return {
    server,
    store,
    async close() {
      await server.close();
      await store.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
