/**
 * A small fleet for drill tests: one echo upstream per zone (answers with its zone name and
 * the colour header the gateway sent), a zone map pointing at them, and gateway processes
 * (`zonegate start -c CONFIG`) on ephemeral ports, each with its own snapshot file.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ZoneMapDoc } from '../../src/zonemap/index.js';
import { spawnZonegate } from '../helpers/cli.js';
import { exampleDoc } from '../helpers/maps.js';
import { freePort, stopChild } from '../helpers/child-processes.js';
import { waitFor } from '../helpers/wait.js';

export interface Upstreams {
  /** zone name → requests it answered */
  readonly hits: Map<string, number>;
  /** The example map with every zone's upstreams pointing at its echo server. */
  doc(version: number, change?: (d: ReturnType<typeof exampleDoc>) => void): ZoneMapDoc;
  close(): Promise<void>;
}

export async function startUpstreams(): Promise<Upstreams> {
  const servers: http.Server[] = [];
  const addr = new Map<string, string>();
  const hits = new Map<string, number>();
  for (const zone of Object.keys(exampleDoc().zones)) {
    const server = http.createServer((req, res) => {
      hits.set(zone, (hits.get(zone) ?? 0) + 1);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, {
          'content-type': 'text/plain',
          'x-echo-colour': String(req.headers['x-ldc-colour'] ?? ''),
        });
        res.end(zone);
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    addr.set(zone, `127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`);
    servers.push(server);
  }
  return {
    hits,
    doc(version, change) {
      const d = exampleDoc();
      d.version = version;
      for (const [name, z] of Object.entries(d.zones)) {
        const a = addr.get(name) ?? '';
        z.upstreams = { http: { blue: [a], green: [a] }, mqtt: z.upstreams?.mqtt ?? [] };
      }
      change?.(d);
      return d;
    },
    close: async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

export interface GatewayProcess {
  readonly id: string;
  readonly idc: string;
  readonly port: number;
  readonly output: () => string;
  /** Its id in the gateways hash (`host:pid`), once started. */
  readonly reportId: () => string;
  /** Starts it (again). Resolves when it answers HTTP. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function gatewayProcess(opts: {
  readonly id: string;
  readonly idc: string;
  readonly redisUrl: string;
  readonly dir: string;
}): Promise<GatewayProcess> {
  const port = await freePort();
  const config = join(opts.dir, `${opts.id}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      idc: opts.idc,
      listeners: [{ name: 'http', protocol: 'http', host: '127.0.0.1', port }],
      zonemap: {
        redis: {
          url: opts.redisUrl,
          snapshotFile: join(opts.dir, `${opts.id}-snapshot.json`),
          connectTimeoutMs: 500,
          reportIntervalMs: 500,
        },
      },
      admin: { enabled: false },
      drain: { delayMs: 0, timeoutMs: 2000 },
      logging: { level: 'warn' },
    }),
  );
  let child: ChildProcess | undefined;
  let out = '';
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c !== undefined) await stopChild(c);
  };
  return {
    id: opts.id,
    idc: opts.idc,
    port,
    output: () => out,
    reportId: () => `${hostname()}:${child?.pid ?? 0}`,
    async start() {
      const c = spawnZonegate(['start', '-c', config]);
      child = c;
      c.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
      c.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
      await waitFor(
        `gateway ${opts.id} on port ${port}`,
        async () => {
          if (c.exitCode !== null) throw new Error(`gateway ${opts.id} exited ${c.exitCode}:\n${out}`);
          return (await routeOf(port, '0')).status > 0;
        },
        20_000,
        100,
      );
    },
    stop,
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** GET through a gateway as user `uid`: the status and which zone's upstream answered. */
export function routeOf(
  port: number,
  uid: string,
  timeoutMs = 5000,
): Promise<{ status: number; zone: string }> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/drill', headers: { 'x-ldc-uid': uid }, agent, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, zone: body }));
        res.on('error', () => resolve({ status: 0, zone: '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, zone: '' }));
  });
}

/** Polls until `uid` is served by `zone` through `port`, failing after timeoutMs. */
export function routedTo(port: number, uid: string, zone: string, timeoutMs = 10_000): Promise<void> {
  return waitFor(
    `uid ${uid} to reach ${zone} via :${port}`,
    async () => (await routeOf(port, uid)).zone === zone,
    timeoutMs,
    5,
  );
}

export function closeAgent(): void {
  agent.destroy();
}
