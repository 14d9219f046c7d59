/**
 * The admin listener (docs/design.md "Admin"): probes, metrics and the zone map for everyone who can
 * reach it (loopback by default), state changes only with a bearer token or a client cert.
 *
 * It talks to the gateway through `AdminTarget` only, so it runs the same in a single process,
 * in the cluster primary (which fans out to workers) and in tests against a stub.
 */
import { constants } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ZonegateError } from '../core/errors.js';
import type { ZoneMapDoc } from '../zonemap/model.js';
import { REQUEST_ID_HEADER, requestIdFrom } from '../core/request-id.js';
import { authorizeWrite } from './auth.js';
import {
  AdminInternalError,
  AdminMethodError,
  AdminNotFoundError,
  NoZoneMapError,
  ReloadFailedError,
} from './errors.js';
import { metrics as defaultMetrics } from './metrics.js';
import { listenTracked } from './small-server.js';

export interface ReloadReport {
  /** What was reloaded, e.g. `["certificates", "config"]`. */
  readonly reloaded: readonly string[];
}

/** The part of a zone map the admin API shows; a CompiledZoneMap is one. */
export interface ZoneMapView {
  readonly version: number;
  readonly doc: ZoneMapDoc;
}

/** What the admin API needs from the gateway; nothing about its internals. */
export interface AdminTarget {
  /** The map this gateway routes by; with workers, the oldest one any worker still uses. */
  getMap(): ZoneMapView | null;
  isDraining(): boolean;
  /** Starts the graceful drain; returns at once (the drain runs in the background). */
  startDrain(reason: string): void;
  /** Rejects with a ZonegateError (e.g. ReloadFailedError) when nothing was changed. */
  reload(): Promise<ReloadReport>;
}

export interface MetricsExposition {
  readonly contentType: string;
  readonly body: string;
}

export interface AdminTlsFiles {
  readonly cert: string;
  readonly key: string;
  /** CA that signs operator client certificates. */
  readonly ca?: string;
  /** Ask for a client certificate; a valid one authorizes writes. */
  readonly requestCert?: boolean;
}

export interface AdminServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly tokenFile: string | null;
  readonly tls?: AdminTlsFiles | null;
  readonly target: AdminTarget;
  /** Defaults to this process's registry; the cluster primary passes the summed view. */
  readonly collectMetrics?: () => Promise<MetricsExposition>;
  readonly logger?: Logger;
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` or `https://…`. */
  readonly url: string;
  /**
   * Re-read the admin certificate files (SIGHUP). Resolves true when TLS is on and the new
   * files were applied; rejects with ReloadFailedError, keeping the old ones, when they are bad.
   */
  reloadTls(): Promise<boolean>;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface Route {
  readonly method: 'GET' | 'POST';
  readonly write: boolean;
  readonly handle: Handler;
}

async function defaultCollect(): Promise<MetricsExposition> {
  return {
    contentType: defaultMetrics.registry.contentType,
    body: await defaultMetrics.registry.metrics(),
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    // Probes and scrapes must never be answered from a cache.
    'cache-control': 'no-store',
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}

/** The proxy's error shape (src/http/respond.ts): `{error: code, reason, requestId}`. */
function sendError(res: ServerResponse, err: ZonegateError, requestId: string): void {
  if (err instanceof AdminMethodError) res.setHeader('allow', err.allow);
  sendJson(res, err.httpStatus, { error: err.code, reason: err.message, requestId });
}

function buildRoutes(options: AdminServerOptions): Map<string, Route> {
  const { target } = options;
  const collect = options.collectMetrics ?? defaultCollect;
  const routes = new Map<string, Route>();
  routes.set('/healthz', {
    method: 'GET',
    write: false,
    // LVS only looks at the status code; the body is for humans with curl.
    handle: (_req, res) => {
      if (target.isDraining()) send(res, 503, 'text/plain; charset=utf-8', 'draining\n');
      else send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      return Promise.resolve();
    },
  });
  routes.set('/readyz', {
    method: 'GET',
    write: false,
    // Not ready while draining either, so Kubernetes takes the pod out of the Service too.
    handle: (_req, res) => {
      const map = target.getMap();
      if (map === null) sendJson(res, 503, { ready: false, reason: 'no zone map loaded' });
      else if (target.isDraining()) sendJson(res, 503, { ready: false, reason: 'draining' });
      else sendJson(res, 200, { ready: true, zonemapVersion: map.version });
      return Promise.resolve();
    },
  });
  routes.set('/metrics', {
    method: 'GET',
    write: false,
    handle: async (_req, res) => {
      const m = await collect();
      send(res, 200, m.contentType, m.body);
    },
  });
  routes.set('/zonemap', {
    method: 'GET',
    write: false,
    handle: (_req, res) => {
      const map = target.getMap();
      if (map === null) throw new NoZoneMapError();
      sendJson(res, 200, { version: map.version, map: redactZoneMap(map.doc) });
      return Promise.resolve();
    },
  });
  routes.set('/drain', {
    method: 'POST',
    write: true,
    handle: (_req, res) => {
      const already = target.isDraining();
      if (!already) target.startDrain('admin');
      sendJson(res, 202, { draining: true, alreadyDraining: already });
      return Promise.resolve();
    },
  });
  routes.set('/reload', {
    method: 'POST',
    write: true,
    handle: async (_req, res) => {
      const report = await target.reload();
      sendJson(res, 200, report);
    },
  });
  return routes;
}

/**
 * The map as /zonemap shows it: `release.greenUids` lists real user ids (often staff or beta
 * testers), which nobody who merely reaches the admin port should learn. Each list becomes its
 * length, `greenUidCount`; everything else the operator needs to read the map stays.
 */
export function redactZoneMap(doc: ZoneMapDoc): unknown {
  const zones: Record<string, unknown> = {};
  for (const [name, zone] of Object.entries(doc.zones)) {
    const release = zone.release;
    if (release?.greenUids === undefined) {
      zones[name] = zone;
      continue;
    }
    const { greenUids, ...rest } = release;
    zones[name] = { ...zone, release: { ...rest, greenUidCount: greenUids.length } };
  }
  return { ...doc, zones };
}

function toZonegateError(err: unknown): ZonegateError {
  if (err instanceof ZonegateError) return err;
  return new AdminInternalError(err);
}

interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

async function readTlsFiles(tls: AdminTlsFiles): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    readFile(tls.cert),
    readFile(tls.key),
    tls.ca === undefined ? Promise.resolve(undefined) : readFile(tls.ca),
  ]);
  return { cert, key, ca };
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const routes = buildRoutes(options);
  const tokenFile = options.tokenFile;
  const log = options.logger;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // Admin requests carry no body worth reading; discard it without buffering.
    req.resume();
    const header = req.headers[REQUEST_ID_HEADER];
    const requestId = requestIdFrom(typeof header === 'string' ? header : undefined);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const route = routes.get(path);
    const run = async (): Promise<void> => {
      if (route === undefined) throw new AdminNotFoundError(path);
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (method !== route.method) throw new AdminMethodError(req.method ?? '?', path, route.method);
      if (route.write) {
        await authorizeWrite(req, tokenFile);
        log?.warn({ path, remote: req.socket.remoteAddress }, 'admin write');
      }
      await route.handle(req, res);
    };
    run().catch((err: unknown) => {
      const zerr = toZonegateError(err);
      if (zerr.httpStatus >= 500) log?.error({ err: zerr, path, requestId }, 'admin request failed');
      if (res.headersSent) res.destroy();
      else sendError(res, zerr, requestId);
    });
  };

  let server: Server;
  let https: HttpsServer | null = null;
  const tls = options.tls ?? null;
  if (tls === null) {
    server = createHttpServer(onRequest);
  } else {
    const { cert, key, ca } = await readTlsFiles(tls);
    server = https = createHttpsServer(
      // rejectUnauthorized stays false: probes and scrapes come without a certificate; the
      // certificate only matters for writes (auth.ts checks socket.authorized).
      // SSL_OP_NO_TICKET: no session resumption, so every connection's client certificate is
      // verified in a full handshake (see auth.ts); admin traffic is too small to care.
      {
        cert,
        key,
        ca,
        requestCert: tls.requestCert === true,
        rejectUnauthorized: false,
        secureOptions: constants.SSL_OP_NO_TICKET,
      },
      onRequest,
    );
  }
  const sockets = await listenTracked(server, options.port, options.host);
  server.on('error', (err) => log?.error({ err }, 'admin server error'));
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    host: addr.address,
    port: addr.port,
    url: `${tls === null ? 'http' : 'https'}://${host}:${addr.port}`,
    async reloadTls() {
      if (tls === null || https === null) return false;
      let files: TlsMaterial;
      try {
        files = await readTlsFiles(tls);
        // setSecureContext throws on a key that does not match its cert; the old context stays.
        https.setSecureContext({ ...files, secureOptions: constants.SSL_OP_NO_TICKET });
      } catch (err) {
        throw new ReloadFailedError(
          `admin TLS files: ${err instanceof Error ? err.message : String(err)}`,
          err,
        );
      }
      return true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The admin API has no in-flight work worth waiting for at exit.
        for (const s of sockets) s.destroy();
      }),
  };
}
