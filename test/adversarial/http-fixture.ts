/**
 * Shared by the hostile-client HTTP suites: a gateway whose every zone points at one recording
 * upstream with a small pool (a leaked connection shows within a few requests), raw-socket
 * clients, and the checks each attack ends with: what the upstream received, and that the
 * zone still serves a normal client right after.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'undici';
import type { Endpoint } from '../../src/upstream/index.js';
import { waitFor } from '../helpers/wait.js';
import { startHarness, type Harness, type HarnessOptions } from '../http/harness.js';

/** What the recording upstream saw of one request. */
export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  /** Body bytes received; -1 while the body has not ended. */
  bodyBytes: number;
  /** The body ended (the upstream executed a complete request). */
  complete: boolean;
}

export interface Recorder {
  readonly address: string;
  readonly seen: Seen[];
  /** Upstream-side sockets currently open (connections the gateway holds). */
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/**
 * The upstream: records every request. `/big?mb=N` streams N MiB; `/slow-head` never answers
 * (until the gateway gives up); anything else answers a small JSON once the body is read. It
 * has no 'upgrade' listener, so an Upgrade request is answered 200 like any other and the
 * connection stays HTTP — the upstream a tunnel bypass needs.
 */
export async function startRecorder(): Promise<Recorder> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer(
    { keepAliveTimeout: 60_000 },
    (req: IncomingMessage, res: ServerResponse) => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyBytes: 0,
        complete: false,
      };
      seen.push(s);
      req.on('data', (c: Buffer) => (s.bodyBytes += c.length));
      req.on('error', () => {});
      res.on('error', () => {});
      const url = new URL(req.url ?? '/', 'http://upstream');
      req.on('end', () => {
        s.complete = true;
        if (url.pathname === '/big') {
          const mb = Number(url.searchParams.get('mb') ?? '1');
          const chunk = Buffer.alloc(64 * 1024, 0x61);
          let left = mb * 16;
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'content-length': String(mb * 1024 * 1024),
          });
          const pump = (): void => {
            while (left > 0) {
              left--;
              if (!res.write(chunk)) {
                res.once('drain', pump);
                return;
              }
            }
            res.end();
          };
          pump();
          return;
        }
        const text = JSON.stringify({
          path: req.url,
          method: req.method,
          bodyBytes: s.bodyBytes,
          zone: req.headers['x-ldc-zone'],
        });
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
        });
        res.end(text);
      });
    },
  );
  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address,
    seen,
    sockets,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export const POOL = 4;

/** Listeners `web` (plain HTTP) and `tls` (HTTPS, h2 by ALPN) with the test certificates. */
export function withTls(c: { serverCert: string; serverKey: string }): Record<string, unknown>[] {
  return [
    { name: 'web', protocol: 'http', port: 0, host: '127.0.0.1' },
    {
      name: 'tls',
      protocol: 'https',
      port: 0,
      host: '127.0.0.1',
      tls: { cert: c.serverCert, key: c.serverKey },
    },
  ];
}

export interface Rig {
  readonly h: Harness;
  readonly rec: Recorder;
  readonly port: number;
  readonly endpoint: Endpoint;
  close(): Promise<void>;
}

/** A gateway with every zone (both colours) on the recorder, a pool of POOL connections. */
export async function startRig(
  config: Record<string, unknown> = {},
  extra: Partial<HarnessOptions> = {},
): Promise<Rig> {
  const rec = await startRecorder();
  const h = await startHarness({
    ...extra,
    config: {
      upstream: {
        connectionsPerEndpoint: POOL,
        healthCheck: { enabled: false },
        ejection: { consecutiveFailures: 2, ejectMs: 60_000 },
      },
      timeouts: { transferIdleTimeoutMs: 800, upstreamResponseTimeoutMs: 5000, shutdownGraceMs: 100 },
      ...config,
    },
    change: (d) => {
      for (const z of Object.values(d.zones))
        z.upstreams = { ...z.upstreams, http: { blue: [rec.address], green: [rec.address] } };
    },
  });
  const endpoint = [...h.gw.http.ctx.registry.endpoints].find((e) => e.address === rec.address);
  assert.ok(endpoint, 'the recorder is an endpoint of the gateway');
  return {
    h,
    rec,
    port: h.gw.address('web').port,
    endpoint,
    async close() {
      await h.close();
      await rec.close();
    },
  };
}

/** Poll `check` until it holds, at most `withinMs`; false when it never did. */
export function until(check: () => boolean, withinMs = 5000): Promise<boolean> {
  return waitFor('a condition', check, withinMs, 20).then(
    () => true,
    () => check(),
  );
}

export type Transport = 'plain' | 'tls';

/**
 * A raw client socket to the gateway on 127.0.0.1: plain TCP, or TLS (HTTP/1.1 by ALPN, the
 * test certificates not checked); `ready` once it can send (after the handshake for TLS).
 * Errors are swallowed: the attacks end connections on purpose.
 */
export function dial(transport: Transport, port: number, ready: () => void): Socket {
  const s =
    transport === 'tls'
      ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, ready)
      : connect(port, '127.0.0.1', ready);
  s.on('error', () => {});
  return s;
}

/**
 * Send raw bytes (over TLS with `tls`, HTTP/1.1 by ALPN); resolve with everything read until
 * the server closes (or `waitMs` passes).
 */
export function raw(
  port: number,
  bytes: string | Buffer,
  o: { endAfter?: boolean; waitMs?: number; tls?: boolean } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const s = dial(o.tls === true ? 'tls' : 'plain', port, () => {
      s.write(bytes);
      if (o.endAfter === true) s.end();
    });
    let buf = '';
    const timer = setTimeout(() => s.destroy(), o.waitMs ?? 4000);
    s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(buf);
    });
  });
}

/** Status codes of every response in a raw reply, in order. */
export function statuses(reply: string): number[] {
  return [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/**
 * The zone is served: POOL + 2 concurrent normal requests all answered 200 from the upstream
 * (more than the pool holds, so a single leaked connection leaves one waiting forever), and the
 * pool has nothing stuck running.
 */
export async function assertServed(rig: Rig, label: string): Promise<void> {
  const url = `http://127.0.0.1:${rig.port}/ok`;
  const results = await Promise.all(
    Array.from({ length: POOL + 2 }, async () => {
      const r = await request(url, {
        headers: { 'x-ldc-uid': '1' },
        headersTimeout: 4000,
        bodyTimeout: 4000,
      });
      await r.body.text();
      return r.statusCode;
    }),
  );
  assert.deepEqual(results, Array(POOL + 2).fill(200), `${label}: a normal client of the zone is served`);
  assert.ok(rig.endpoint.available(Date.now()), `${label}: the upstream was not ejected`);
  await assertPoolFree(rig, label);
}

/** Every connection of the pool is free again (none left running or pinned by a gone client). */
export async function assertPoolFree(rig: Rig, label: string): Promise<void> {
  // Node's path (bodies) uses the undici pool, the fast path the raw connections.
  const pool = rig.endpoint.pool;
  const conns = rig.endpoint.conns;
  const free = await until(() => {
    const s = pool.stats;
    return (
      s.running === 0 &&
      s.pending === 0 &&
      s.free === s.connected &&
      conns.size === conns.idle &&
      conns.waiting === 0
    );
  });
  const raw = { open: conns.size, idle: conns.idle, waiting: conns.waiting };
  assert.ok(
    free,
    `${label}: pool connections all free again (${JSON.stringify(pool.stats)}, fast path ${JSON.stringify(raw)})`,
  );
}
