/**
 * The drill console (docs/console.md): one page and a small JSON API on its own port, loopback
 * by default. Reading needs nothing; every change needs the admin token (bearer header, same
 * token file convention as the admin listener) or a client certificate, and goes through
 * prepareChange/commitChange — the CLI's own write path, compare-and-set and history entry.
 *
 * CSRF: the page keeps the token in memory and sends it in a header, so a forged cross-site
 * request has no credential; no cookie is ever set. Because a client certificate is sent by
 * the browser on its own, state-changing requests must also be JSON (a cross-site form cannot
 * send that without a CORS preflight, which this server never grants) and, when the browser
 * says where they come from (Origin, Sec-Fetch-Site), come from this very origin. On loopback
 * the Host header must name a loopback host, so a DNS-rebinding page cannot read the API.
 */
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { authorizeWrite, listenTracked } from '../admin/index.js';
import { UsageError, ZonegateError } from '../core/errors.js';
import {
  commitChange,
  DrillRefusedError,
  formatBlastRadius,
  prepareChange,
  type PreparedChange,
} from '../drill/index.js';
import { ZoneMapConflictError, type ZoneMapStore } from '../zonemap/stores/index.js';
import { parseAction, planFor } from './actions.js';
import {
  ConsoleAssetsMissingError,
  ConsoleForbiddenError,
  ConsoleNotFoundError,
  ConsoleRequestError,
} from './errors.js';
import { FleetMetrics } from './fleet-metrics.js';
import { currentMap, gatewayViews, HistoryDiffs, mapView } from './state.js';
import type { ApplyResult, ConsoleState, DryRunView, MapView } from './view.js';

export interface ConsoleTlsFiles {
  readonly cert: string;
  readonly key: string;
  /** CA of operator client certificates; with it the console asks for one. */
  readonly ca?: string;
}

export interface ConsoleServerOptions {
  readonly store: ZoneMapStore;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly tokenFile: string | null;
  readonly tls: ConsoleTlsFiles | null;
  /** Gateways' admin base URLs, scraped for /metrics. */
  readonly gateways: readonly string[];
  readonly refreshMs: number;
  readonly staleMs: number;
  readonly maxMovePercent: number;
  /** Folder with index.html, console.js and console.css (built by scripts/build-console.mjs). */
  readonly assetsDir: string;
  readonly historyLimit?: number;
  readonly logger?: Logger;
}

export interface ConsoleServer {
  readonly url: string;
  readonly port: number;
  /** The newest state (what the page shows). */
  state(): ConsoleState | null;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const MAX_SSE_CLIENTS = 64;
const SSE_HEARTBEAT_MS = 15_000;
const OPERATOR = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_REASON = 500;

const SECURITY_HEADERS: Record<string, string> = {
  // Every asset is ours and same-origin: no CDN, no inline script, nothing framed.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

function loadAssets(dir: string): Map<string, Asset> {
  const files: [string, string, string][] = [
    ['/', 'index.html', 'text/html; charset=utf-8'],
    ['/assets/console.js', 'console.js', 'text/javascript; charset=utf-8'],
    ['/assets/console.css', 'console.css', 'text/css; charset=utf-8'],
  ];
  const out = new Map<string, Asset>();
  for (const [path, file, type] of files) {
    try {
      out.set(path, { type, body: readFileSync(join(dir, file)) });
    } catch {
      throw new ConsoleAssetsMissingError(dir);
    }
  }
  return out;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** Colour shifts in the CLI's words (formatBlastRadius's colour section), one per zone. */
function colourLines(change: PreparedChange): string[] {
  const r = change.radius;
  const pct = (n: number): string => `${((100 * n) / r.shards).toFixed(1)}%`;
  return r.colour.map((c) => {
    const parts: string[] = [];
    if (c.toGreenShards > 0)
      parts.push(`blue → green ≈ ${c.toGreenShards.toFixed(2)} shards (${pct(c.toGreenShards)} of users)`);
    if (c.toBlueShards > 0)
      parts.push(`green → blue ≈ ${c.toBlueShards.toFixed(2)} shards (${pct(c.toBlueShards)} of users)`);
    if (c.uidsAdded > 0) parts.push(`+${c.uidsAdded} listed uid(s) to green`);
    if (c.uidsRemoved > 0) parts.push(`-${c.uidsRemoved} listed uid(s) back to blue`);
    return `${c.zone}: ${parts.join(', ')}`;
  });
}

export function dryRunView(change: PreparedChange): DryRunView {
  const r = change.radius;
  return {
    action: change.action,
    expected: change.expected,
    nextVersion: change.nextVersion,
    changes: r.changes,
    moves: r.moves.map((m) => ({ shards: m.shards, from: m.from, to: m.to, count: m.count })),
    movedShards: r.movedShards,
    shards: r.shards,
    colour: colourLines(change),
    lostLastStandby: r.lostLastStandby,
    unserved: [
      ...r.newlyUnservedShards.map((s) => `shards ${s}`),
      ...r.newlyUnservedZones.map((z) => `zone ${z}`),
    ],
    violations: change.violations,
    noop: change.noop,
    refused: change.refused,
    lines: formatBlastRadius(r),
  };
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    throw new ConsoleRequestError('send application/json (a cross-site form cannot)', 415);
  }
  // Too large: answer 413 after reading (and dropping) the rest, so the client sees the
  // answer rather than a reset; the server's requestTimeout bounds how long that may take.
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    req.resume();
    throw new ConsoleRequestError(`request body over ${MAX_BODY_BYTES} bytes`, 413);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', resolve);
    req.on('error', reject);
  });
  if (size > MAX_BODY_BYTES) throw new ConsoleRequestError(`request body over ${MAX_BODY_BYTES} bytes`, 413);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ConsoleRequestError('request body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ConsoleRequestError('request body must be an object');
  return v as Record<string, unknown>;
}

/** The CN of a verified client certificate: the operator's name, when one signed in that way. */
function certificateName(req: IncomingMessage): string | null {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || socket.authorized !== true) return null;
  const cn = socket.getPeerCertificate?.().subject?.CN;
  return typeof cn === 'string' && OPERATOR.test(cn) ? cn : null;
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { store, logger: log } = options;
  const assets = loadAssets(options.assetsDir);
  const scheme = options.tls === null ? 'http' : 'https';
  const loopbackOnly = isLoopbackAddress(options.host);
  const fleet = new FleetMetrics(Math.min(2000, options.refreshMs * 2), options.refreshMs / 2);
  const diffs = new HistoryDiffs(store);
  const historyLimit = options.historyLimit ?? 20;
  const clients = new Set<ServerResponse>();
  let latest: ConsoleState | null = null;
  let latestJson = '';
  let lastMap: MapView | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let writes: Promise<unknown> = Promise.resolve();

  const refresh = async (): Promise<void> => {
    const now = Date.now();
    let version: number | null = latest?.version ?? null;
    let problem: string | null = null;
    let gateways = latest?.gateways ?? [];
    let history = latest?.history ?? [];
    try {
      const cur = await currentMap(store);
      version = cur.version;
      problem = cur.problem;
      if (cur.map !== null && (lastMap === null || lastMap.version !== cur.map.version))
        lastMap = mapView(cur.map);
      if (cur.map === null) lastMap = null;
      const reports = await store.gateways();
      gateways = gatewayViews(reports, version, options.staleMs, now);
      history = await diffs.views(await store.history(historyLimit));
      // A report's own admin URL (when gateways publish one) joins the --gateways list.
      const urls = new Set(options.gateways);
      for (const r of reports) {
        const admin = (r as { admin?: unknown }).admin;
        if (typeof admin === 'string' && /^https?:\/\//.test(admin)) urls.add(admin);
      }
      await fleet.scrape([...urls]);
    } catch (err) {
      // Store down: keep showing the last picture, and say so.
      problem = err instanceof Error ? err.message : String(err);
    }
    latest = {
      store: store.description,
      version,
      problem,
      at: new Date(now).toISOString(),
      map: lastMap,
      gateways,
      scrapes: fleet.scrapes(),
      stats: fleet.stats(lastMap?.zones.map((z) => z.name) ?? []),
      history,
    };
    latestJson = JSON.stringify(latest);
    for (const res of clients) res.write(`event: state\ndata: ${latestJson}\n\n`);
  };

  // One refresh at a time: the loop and a write's follow-up never interleave their reads.
  let running: Promise<void> | null = null;
  const refreshOnce = (): Promise<void> =>
    (running ??= refresh().finally(() => {
      running = null;
    }));

  const loop = (): void => {
    if (closed) return;
    refreshOnce()
      .catch((err: unknown) => log?.error({ err }, 'console refresh failed'))
      .finally(() => {
        if (!closed) timer = setTimeout(loop, options.refreshMs);
      });
  };

  const checkHost = (req: IncomingMessage): void => {
    if (loopbackOnly && !LOOPBACK_HOST.test(req.headers.host ?? '')) {
      throw new ConsoleForbiddenError(
        `this console answers to loopback host names only (Host: ${req.headers.host ?? 'none'})`,
      );
    }
  };

  const checkSameOrigin = (req: IncomingMessage): void => {
    const origin = req.headers.origin;
    const own = `${scheme}://${req.headers.host ?? ''}`;
    if (origin !== undefined && origin !== own) {
      throw new ConsoleForbiddenError(`cross-origin request refused (Origin ${origin}, console ${own})`);
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      throw new ConsoleForbiddenError(`cross-site request refused (Sec-Fetch-Site: ${String(site)})`);
    }
  };

  const prepare = async (body: Record<string, unknown>, force: boolean): Promise<PreparedChange> => {
    const plan = planFor(parseAction(body['action']));
    return prepareChange(store, plan, { maxMovePercent: options.maxMovePercent, force });
  };

  const apply = async (req: IncomingMessage, body: Record<string, unknown>): Promise<ApplyResult> => {
    const reason = typeof body['reason'] === 'string' ? body['reason'].trim() : '';
    if (reason === '') throw new UsageError('say why: a reason is required, it goes into the history');
    if (reason.length > MAX_REASON) throw new UsageError(`reason is over ${MAX_REASON} characters`);
    const operator =
      certificateName(req) ?? (typeof body['operator'] === 'string' ? body['operator'].trim() : '');
    if (!OPERATOR.test(operator))
      throw new UsageError('operator must be your name (letters, digits, . _ -, up to 64)');
    const expected = body['expected'];
    if (expected !== null && (typeof expected !== 'number' || !Number.isSafeInteger(expected)))
      throw new UsageError('expected must be the version the dry run was based on (or null)');
    const change = await prepare(body, body['force'] === true);
    // Apply what the operator saw: if the store moved since the dry run, say so instead of
    // writing a different change on top of someone else's.
    if (change.expected !== expected) throw new ZoneMapConflictError(expected, change.expected);
    if (change.noop) throw new UsageError('nothing to change: the store already holds this map');
    if (change.refused) throw new DrillRefusedError(change.violations);
    const who = `${operator}@${hostname()}`;
    await commitChange(store, change, { who, reason });
    log?.warn({ who, action: change.action, version: change.nextVersion, reason }, 'console change written');
    return { version: change.nextVersion, previous: change.expected, who, action: change.action };
  };

  const events = (req: IncomingMessage, res: ServerResponse): void => {
    if (clients.size >= MAX_SSE_CLIENTS) throw new ConsoleRequestError('too many open consoles', 503);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    res.write(`retry: 2000\n\n`);
    if (latestJson !== '') res.write(`event: state\ndata: ${latestJson}\n\n`);
    clients.add(res);
    const beat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    beat.unref();
    const done = (): void => {
      clearInterval(beat);
      clients.delete(res);
    };
    req.on('close', done);
    res.on('error', done);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    checkHost(req);
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
    const asset = method === 'GET' ? assets.get(path === '/index.html' ? '/' : path) : undefined;
    if (asset !== undefined) return send(res, 200, asset.type, asset.body);
    if (method === 'GET' && path === '/api/state') {
      if (latest === null) await refreshOnce();
      return sendJson(res, 200, latest);
    }
    if (method === 'GET' && path === '/api/events') return events(req, res);
    if (method === 'POST' && (path === '/api/dry-run' || path === '/api/apply')) {
      checkSameOrigin(req);
      const body = await readJsonBody(req);
      if (path === '/api/dry-run')
        return sendJson(res, 200, dryRunView(await prepare(body, body['force'] === true)));
      await authorizeWrite(req, options.tokenFile);
      // One write at a time from this console; the store's compare-and-set guards the rest.
      const result = writes.then(
        () => apply(req, body),
        () => apply(req, body),
      );
      writes = result;
      const written = await result;
      // Show the write at once: after any refresh already under way (it may have read the
      // store before the write), one more.
      await running;
      await refreshOnce();
      return sendJson(res, 200, written);
    }
    req.resume();
    throw new ConsoleNotFoundError(req.method ?? '?', path);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      const zerr = err instanceof ZonegateError ? err : null;
      if (zerr === null) log?.error({ err }, 'console request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const code = zerr?.code ?? 'ZG_ERR_CONSOLE_INTERNAL';
      const message = zerr?.message ?? 'internal error in the console';
      sendJson(res, zerr?.httpStatus ?? 500, { error: { code, message } });
    });
  };

  let server: Server;
  const tls = options.tls;
  if (tls === null) {
    server = createHttpServer(onRequest);
  } else {
    server = createHttpsServer(
      {
        cert: readFileSync(tls.cert),
        key: readFileSync(tls.key),
        ...(tls.ca === undefined ? {} : { ca: readFileSync(tls.ca), requestCert: true }),
        // Reading needs no certificate; authorizeWrite checks it for writes. No session
        // tickets, so every connection's certificate is verified in a full handshake (auth.ts).
        rejectUnauthorized: false,
        secureOptions: constants.SSL_OP_NO_TICKET,
      },
      onRequest,
    );
  }
  const sockets = await listenTracked(server, options.port, options.host);
  server.on('error', (err) => log?.error({ err }, 'console server error'));
  loop();
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${scheme}://${shown}:${addr.port}`,
    port: addr.port,
    state: () => latest,
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        clearTimeout(timer);
        for (const c of clients) c.end();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
