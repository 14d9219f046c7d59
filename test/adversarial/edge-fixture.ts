/**
 * A gateway for the edge attacks (listener, TLS, admin, per-client limits): demo upstreams,
 * the example map, and a private metrics registry fed by the same metrics subscriber the CLI wires, so a
 * test can read what an operator would see on /metrics. Plus raw-socket helpers: attacks are
 * bytes on `node:net` / `node:tls` sockets, answers are read back as bytes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createMetrics, type Metrics } from '../../src/admin/metrics.js';
import { subscribeMetrics } from '../../src/admin/http-metrics.js';
import { EventBus } from '../../src/core/events.js';
import { validateConfig } from '../../src/core/config.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../src/gateway/demo-upstreams.js';
import { startGateway, type Gateway } from '../../src/gateway/gateway.js';
import type { ListenerEvent } from '../../src/listeners/index.js';
import { exampleDoc } from '../helpers/maps.js';
import { waitFor } from '../helpers/wait.js';

export interface Edge {
  readonly gw: Gateway;
  readonly metrics: Metrics;
  readonly events: ListenerEvent[];
  port(listener: string): number;
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

/** Start a gateway over `ups` with `config` merged over a small base (no health checks, short grace). */
export async function startEdge(ups: DemoUpstreams, config: Record<string, unknown>): Promise<Edge> {
  const doc = structuredClone(ups.doc) as ReturnType<typeof exampleDoc>;
  // Keep test clients from looking like peer gateways (the example map puts them on 127.0.0.1).
  for (const idc of Object.values(doc.idcs ?? {})) idc.gateways = ['192.0.2.1:8080'];
  const dir = mkdtempSync(join(tmpdir(), 'zg-edge-'));
  const mapFile = join(dir, 'map.json');
  writeFileSync(mapFile, JSON.stringify(doc));
  const cfg = validateConfig({
    idc: 'hz-1',
    zonemap: { file: mapFile },
    upstream: { healthCheck: { enabled: false } },
    ...config,
    timeouts: { shutdownGraceMs: 100, ...(config.timeouts as object | undefined) },
  });
  const metrics = createMetrics();
  const events: ListenerEvent[] = [];
  const bus = new EventBus();
  subscribeMetrics(bus, metrics, { listeners: cfg.listeners });
  bus.listener.subscribe((e) => events.push(e));
  const gw = await startGateway({ config: cfg, events: bus });
  return {
    gw,
    metrics,
    events,
    port: (name) => gw.address(name).port,
    metricsText: () => metrics.registry.metrics(),
    close: () => gw.close(),
  };
}

export function demoUpstreams(): Promise<DemoUpstreams> {
  return startDemoUpstreams(exampleDoc());
}

/** What a raw connection got back before the server closed it (or `waitMs` passed). */
export interface RawAnswer {
  readonly text: string;
  /** True when the server ended or reset the connection. */
  readonly closed: boolean;
}

/**
 * Send `bytes` and collect the answer until the server closes, or until `until(text)` holds,
 * or `waitMs` (a bound for a broken server, not a timing assertion).
 */
export function exchange(
  socket: Socket | TLSSocket,
  bytes: string | Buffer,
  until: (text: string) => boolean = () => false,
  waitMs = 8000,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until(text)) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    if (bytes.length > 0) socket.write(bytes);
  });
}

/** A TCP connection from a chosen loopback address (127.0.0.2 … are distinct clients to the gateway). */
export function rawConnect(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** `n` connections opened one after another (so the gateway sees them in order, oldest first). */
export async function rawConnections(n: number, port: number, localAddress?: string): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) sockets.push(await rawConnect(port, localAddress));
  return sockets;
}

/** Resolves when `socket` is closed by the other side; rejects after `waitMs` with `what`. */
export function closedWithin(socket: Socket, waitMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error(`${what}: still open after ${waitMs} ms`)), waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Poll a condition the gateway reaches on its own (e.g. counting a connection), bounded. */
export function until(cond: () => boolean, waitMs: number, what: string): Promise<void> {
  return waitFor(what, cond, waitMs, 10);
}

export function httpGet(path: string, headers: Record<string, string> = {}, close = false): string {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `GET ${path} HTTP/1.1\r\nHost: edge.test\r\n${extra}${close ? 'Connection: close\r\n' : ''}\r\n`;
}

/** Status of the first response in `text`, or 0. */
export function statusOf(text: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m === null ? 0 : Number(m[1]);
}
