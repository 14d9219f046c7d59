/**
 * Real redis-server processes for integration tests, each on its own ephemeral port.
 *
 * Every process started here is tracked; a synchronous `exit` hook SIGKILLs whatever a
 * failing test left behind, so no redis-server outlives the test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { freePort, track } from './child-processes.js';
import { waitFor } from './wait.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = '/usr/bin/redis-server';

/** Sends one inline command and resolves with the first reply line, or null on failure. */
export function redisCommand(port: number, command: string, timeoutMs = 500): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v: string | null): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on('error', () => done(null));
    sock.on('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\r\n');
      if (nl >= 0) done(buf.slice(0, nl));
    });
  });
}

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ['--replicaof', '127.0.0.1', '1234']. */
  readonly args?: readonly string[];
  /** Port to use; a free one by default. */
  readonly port?: number;
  /** Keep data across kill/restart (appendonly, fsync always). Off by default: tests start empty. */
  readonly persist?: boolean;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: () => number | undefined;
  /** SIGTERM and wait for exit. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL (a crash): no shutdown save, clients see a reset. */
  kill(): Promise<void>;
  /** Start again on the same port (after stop or kill). */
  restart(): Promise<void>;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'zg-redis-'));
  const persistArgs = options.persist
    ? ['--appendonly', 'yes', '--appendfsync', 'always']
    : ['--appendonly', 'no'];
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    ...persistArgs,
    '--protected-mode',
    'no',
    '--dir',
    dir,
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const c = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    track(c);
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    await waitFor(`redis-server on port ${port} to answer PING (${stderr})`, async () => {
      if (c.exitCode !== null) throw new Error(`redis-server exited: ${stderr}`);
      // A server with requirepass / ACLs answers -NOAUTH: it is up all the same.
      const reply = await redisCommand(port, 'PING');
      return reply === '+PONG' || reply?.startsWith('-NOAUTH') === true;
    });
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (c === undefined) return;
    child = undefined;
    if (c.exitCode === null && c.signalCode === null) c.kill(sig);
    await waitExit(c);
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => child?.pid,
    stop: async () => {
      await signal('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => signal('SIGKILL'),
    restart: async () => {
      await signal('SIGTERM');
      await launch();
    },
  };
}

/**
 * A TCP pass-through in front of Redis. `cut()` severs every connection and refuses new
 * ones until `restore()`: a network partition, while Redis itself keeps accepting writes.
 */
export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let blocked = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const teardown = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut: () => {
      blocked = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore: () => {
      blocked = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        blocked = true;
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  /** Seed nodes for ioredis Cluster / `--cluster`. */
  readonly seeds: readonly { host: string; port: number }[];
  stop(): Promise<void>;
}

/** A three-primary Redis Cluster (no replicas): enough to prove every key shares one slot. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    for (const n of nodes) await n.stop();
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      nodes.push(
        await startRedis({
          port,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
          ],
        }),
      );
    }
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await new Promise<void>((resolve, reject) => {
      const c = spawn(
        '/usr/bin/redis-cli',
        ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let err = '';
      c.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
      c.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create: ${err}`)),
      );
    });
    for (const n of nodes) {
      await waitFor(`cluster node ${n.port} to be ok`, async () => {
        const info = await clusterState(n.port);
        return info === 'ok';
      });
    }
    return { nodes, seeds: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function clusterState(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => done(null), 500);
    const done = (v: string | null): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    sock.on('error', () => done(null));
    sock.on('connect', () => sock.write('CLUSTER INFO\r\n'));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const m = /cluster_state:(\w+)/.exec(buf);
      if (m?.[1] !== undefined) done(m[1]);
    });
  });
}
