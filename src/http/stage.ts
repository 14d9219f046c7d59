/**
 * The HTTP stage: takes connections from listeners and serves them with Node's HTTP/1.1
 * parser, or its HTTP/2 one when TLS ALPN chose h2 (h2 in, h1 out to upstreams). Plain HTTP/1.1
 * connections go through the fast path (fast/) first, which hands Node what it does not serve. Owns the
 * client-side timeouts and limits, the zone map → upstream table swap, and graceful close.
 */
import {
  createServer as createH1Server,
  type IncomingMessage,
  type Server as H1Server,
  type ServerResponse,
} from 'node:http';
import {
  createServer as createH2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { GatewayConfig } from '../core/config.js';
import { EventBus, publishRequestDone } from '../core/events.js';
import type { CookieKeyring } from '../identity/index.js';
import { Identifier, identityRules } from '../identity/index.js';
import type { ConnectionInfo, EdgePolicy } from '../listeners/index.js';
import type { Self } from '../router/index.js';
import { HealthChecker, UpstreamRegistry } from '../upstream/index.js';
import type { CompiledZoneMap } from '../zonemap/index.js';
import type { HttpContext } from './context.js';
import { BadRequestError, HeadersTooLargeError } from './errors.js';
import { handleRequest, internalError, rememberCertUid } from './forward.js';
import { sendError, writeRawError } from './respond.js';
import { TransferWatch } from './transfer-watch.js';
import { handleUpgrade } from './websocket.js';
import { FastPath } from './fast/index.js';

/** Event handlers never throw (a throw here would take the whole process down): a bug costs one 500. */
function safely(
  ctx: HttpContext,
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  h2: boolean,
  expectContinue: boolean,
  edge: EdgePolicy,
): void {
  try {
    const socket = req.socket;
    // Only the drain reads the count, and only to see a request start between two of its looks.
    if (ctx.closing && !h2) {
      const conn = socket as CountsRequests;
      conn[kRequests] = (conn[kRequests] ?? 0) + 1;
    }
    const hsts = edge.hsts(socket);
    if (hsts !== undefined) res.setHeader('strict-transport-security', hsts);
    const counted = edge.allowRequest(socket) ? edge.startRequest(socket) : false;
    if (counted === false) {
      sendError(res, edge.rateLimited);
      publishRequestDone(
        ctx.events,
        h2 ? 'http2' : 'http1',
        '',
        '',
        edge.rateLimited.code,
        429,
        0,
        '',
        -1,
        '',
        '',
        null,
      );
      return;
    }
    // The count is released when the answer is done or the exchange is torn down, whichever
    // way (res 'close' fires for both), so a client cannot leak its own slots either. An
    // uncounted request (exempt client, limit off) costs no listener.
    if (counted) res.once('close', () => edge.endRequest(socket));
    handleRequest(ctx, req, res, h2, expectContinue);
  } catch (err) {
    // Answers with the request's trace (x-request-id) when it got that far: forward.ts finish().
    internalError(ctx, req, res, h2, err);
  }
}

const noop = (): void => {};

/**
 * A drain closes a keep-alive connection only once it has been between requests this long: a
 * client that sent its next request just as the drain began (it cannot know) gets that request
 * answered, with `connection: close`, instead of a reset. Closing idle connections at once —
 * Node's closeIdleConnections — loses exactly those requests under steady load.
 */
const DRAIN_IDLE_GRACE_MS = 1000;

/** Requests Node's HTTP/1 server has started on a connection during the drain (its idleness check). */
const kRequests = Symbol('zonegate.requests');
interface CountsRequests {
  [kRequests]?: number;
}

/** Connection events carry nothing per connection: two shared, frozen objects. */
const HTTP_CONNECTION = Object.freeze({ protocol: 'http' as const });
const HTTPS_CONNECTION = Object.freeze({ protocol: 'https' as const });

/**
 * Parse errors Node reports for bytes that come after a request it already handed us: the
 * request runs and is answered; the extra bytes are dropped with the connection.
 */
const AFTER_REQUEST_ERRORS = new Set(['HPE_CLOSED_CONNECTION']);

interface WithResponse {
  /** Node's in-flight response on an HTTP/1 socket (set while a request is being answered). */
  _httpMessage?: ServerResponse | null;
}

export interface HttpStageOptions {
  readonly config: GatewayConfig;
  readonly map: CompiledZoneMap;
  readonly keyring: CookieKeyring | null;
  /** Where the stage publishes (src/core/events.ts); default a bus nobody listens to. */
  readonly events?: EventBus;
  /** Per-client rate limit and HSTS (src/listeners/edge-policy.ts). */
  readonly edge: EdgePolicy;
}

export class HttpStage {
  readonly ctx: HttpContext;
  readonly #h1: H1Server;
  readonly #h2: Http2Server;
  readonly #sessions = new Set<Http2Session>();
  readonly #sockets = new Set<Socket>();
  /** The HTTP/1 connections Node's server reads (TLS, and those the fast path handed over). */
  readonly #nodeH1 = new WeakSet<Socket>();
  readonly #health: HealthChecker;
  /** Requests that were still being answered when close() had to cut their connections. */
  cutAtClose = 0;
  readonly #edge: EdgePolicy;
  /** Plain HTTP/1.1 connections are read here first (src/http/fast/); Node's server gets the rest. */
  readonly #fast: FastPath;

  constructor(o: HttpStageOptions) {
    const cfg = o.config;
    const t = cfg.timeouts;
    const rules = identityRules(cfg.identity);
    const registry = new UpstreamRegistry({
      connections: cfg.upstream.connectionsPerEndpoint,
      pipelining: cfg.upstream.pipelining,
      connectTimeoutMs: t.upstreamConnectTimeoutMs,
      responseTimeoutMs: t.upstreamResponseTimeoutMs,
      bodyTimeoutMs: t.upstreamResponseTimeoutMs,
      idleTimeoutMs: t.upstreamIdleTimeoutMs,
      maxHeaderBytes: cfg.limits.maxHeaderBytes,
      consecutiveFailures: cfg.upstream.ejection.consecutiveFailures,
      ejectMs: cfg.upstream.ejection.ejectMs,
    });
    const events = o.events ?? new EventBus();
    const self: Self = { idc: cfg.idc, crossIdc: cfg.crossIdc };
    const c = cfg.identity.cookie;
    this.ctx = {
      config: cfg,
      self,
      table: registry.table(o.map),
      registry,
      identifier: new Identifier({
        keyring: o.keyring,
        maxAgeSec: c.maxAgeSec,
        cacheSize: c.verifiedCacheSize,
        uidPattern: rules.uidPattern,
        onCookieRejected: (reason) => {
          if (events.cookieRejected.active) events.cookieRejected.publish({ reason });
        },
      }),
      keyring: o.keyring,
      certUid: rules.certUid,
      events,
      cookieAttributes: `; Path=/; Max-Age=${c.maxAgeSec}; HttpOnly; SameSite=Lax${c.secure ? '; Secure' : ''}`,
      closing: false,
      transfers: new TransferWatch(t.transferIdleTimeoutMs),
    };
    const ctx = this.ctx;
    const edge = (this.#edge = o.edge);

    this.#h1 = createH1Server(
      {
        maxHeaderSize: cfg.limits.maxHeaderBytes,
        headersTimeout: t.headersTimeoutMs,
        requestTimeout: t.requestTimeoutMs,
        keepAliveTimeout: t.idleTimeoutMs,
        // Node checks the two timeouts above on this interval; keep it well below them.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(t.headersTimeoutMs / 4))),
        noDelay: true,
      },
      (req: IncomingMessage, res: ServerResponse) => safely(ctx, req, res, false, false, edge),
    );
    // A request then FIN (half-close) still gets its answer; the connection closes after it.
    (this.#h1 as H1Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    // Expect: 100-continue is the gateway's to answer, once it knows the body is wanted.
    this.#h1.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
      safely(ctx, req, res, false, true, edge),
    );
    this.#h1.on('connect', (req: IncomingMessage, socket: Duplex) => {
      socket.on('error', noop);
      const e = new BadRequestError('CONNECT is not supported');
      writeRawError(socket, e);
      publishRequestDone(
        events,
        'http1',
        '',
        '',
        e.code,
        e.httpStatus,
        0,
        '',
        -1,
        req.method ?? 'CONNECT',
        req.url ?? '',
        null,
      );
    });
    // Node starts the headersTimeout / requestTimeout sweeper (and the connection list that
    // closeIdleConnections walks) on 'listening'. This server never listens itself (listeners
    // hand it sockets), so start that machinery explicitly.
    this.#h1.emit('listening');
    this.#h1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!edge.allowRequest(req.socket)) return writeRawError(socket, edge.rateLimited);
      handleUpgrade(ctx, req, socket, head);
    });
    this.#h1.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
      const inFlight = (socket as Duplex & WithResponse)._httpMessage;
      if (inFlight !== undefined && inFlight !== null && err.code !== undefined) {
        // Garbage after a request being answered: let the answer finish, then close.
        if (!AFTER_REQUEST_ERRORS.has(err.code)) inFlight.shouldKeepAlive = false;
        if (inFlight.headersSent && !AFTER_REQUEST_ERRORS.has(err.code)) socket.destroy();
        return;
      }
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const e =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? new HeadersTooLargeError(cfg.limits.maxHeaderBytes)
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT'
            ? new BadRequestError('request not received in time', 408)
            : new BadRequestError(`malformed request: ${err.code ?? err.message}`);
      writeRawError(socket, e);
      publishRequestDone(events, 'http1', '', '', e.code, e.httpStatus, 0, '', -1, '', '', null);
    });

    this.#h2 = createH2Server(
      {
        maxSessionMemory: 16,
        // RFC 9113 §6.5.2: the header list limit we advertise, same budget as HTTP/1.1.
        settings: {
          maxHeaderListSize: cfg.limits.maxHeaderBytes,
          maxConcurrentStreams: cfg.limits.http2MaxConcurrentStreams,
        },
        maxSendHeaderBlockLength: 65536,
      },
      (req: Http2ServerRequest, res: Http2ServerResponse) => safely(ctx, req, res, true, false, edge),
    );
    this.#h2.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) =>
      safely(ctx, req, res, true, true, edge),
    );
    // A stream error nobody else listens to must not be an unhandled 'error' event.
    this.#h2.on('stream', (stream: Duplex) => stream.on('error', noop));
    this.#h2.on('session', (s: Http2Session) => {
      this.#sessions.add(s);
      s.on('close', () => this.#sessions.delete(s));
      s.on('error', () => {});
      s.setTimeout(t.idleTimeoutMs, () => s.close());
    });

    this.#fast = new FastPath({
      ctx,
      edge,
      handOff: (socket, bytes) => {
        if (bytes !== null) socket.unshift(bytes);
        this.#nodeH1.add(socket);
        this.#h1.emit('connection', socket);
        // Node's parser reads the handle itself: what waits in the stream's buffer flows once.
        socket.resume();
      },
    });

    this.#health = new HealthChecker({
      config: cfg.upstream.healthCheck,
      endpoints: () => registry.endpoints,
      onChange: (endpoint, healthy) => {
        if (events.healthChange.active)
          events.healthChange.publish({ protocol: 'http', upstream: endpoint.address, healthy });
      },
    });
    this.#health.start();
  }

  /** Follow a new zone map: later requests route with it, in-flight ones finish on theirs. */
  setMap(map: CompiledZoneMap): void {
    this.ctx.table = this.ctx.registry.table(map);
  }

  /** The listener callback. Must not throw. */
  readonly onConnection = (socket: Socket | TLSSocket, info: ConnectionInfo): void => {
    const ev = this.ctx.events.connection;
    if (ev.active) ev.publish(info.protocol === 'https' ? HTTPS_CONNECTION : HTTP_CONNECTION);
    socket.on('error', noop);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.#edge.onConnection(socket, info, this.ctx.table.peerHosts.has(info.remoteAddress));
    if (info.secure) {
      const tls = socket as TLSSocket;
      rememberCertUid(this.ctx, tls);
      if (tls.alpnProtocol === 'h2') {
        this.#h2.emit('connection', socket);
        return;
      }
    }
    // See httpAllowHalfOpen above: the socket must not end its side when the client ends its own.
    socket.allowHalfOpen = true;
    // HTTP/1 over TLS as over plain TCP: the fast path reads first and hands anything unusual
    // (with the bytes it read) to Node's server.
    this.#fast.serve(socket);
  };

  /** Health checks now (tests), instead of waiting for the interval. */
  checkHealth(): Promise<void> {
    return this.#health.runOnce();
  }

  /**
   * Node-path HTTP/1 connections with no response in flight and no new request for
   * DRAIN_IDLE_GRACE_MS are closed: `quiet` remembers, per connection, the request count it had
   * when it was first seen idle (a request started in between, however short, resets it).
   */
  #closeQuietH1(
    quiet: Map<Socket, { readonly requests: number; readonly since: number }>,
    now: number,
  ): void {
    for (const s of this.#sockets) {
      if (!this.#nodeH1.has(s)) continue;
      const requests = (s as CountsRequests)[kRequests] ?? 0;
      const busy = (s as WithResponse)._httpMessage != null;
      const seen = quiet.get(s);
      if (busy || seen === undefined || seen.requests !== requests) {
        if (busy) quiet.delete(s);
        else quiet.set(s, { requests, since: now });
      } else if (now - seen.since >= DRAIN_IDLE_GRACE_MS) {
        quiet.delete(s);
        s.destroy();
      }
    }
  }

  /**
   * Graceful close: keep-alive connections once quiet for DRAIN_IDLE_GRACE_MS, busy ones after their response
   * (`connection: close`), HTTP/2 sessions by GOAWAY; whatever remains after graceMs is cut.
   */
  async close(graceMs: number): Promise<void> {
    this.ctx.closing = true;
    this.cutAtClose = 0;
    this.#health.stop();
    for (const s of this.#sessions) s.close();
    const deadline = Date.now() + graceMs;
    const quiet = new Map<Socket, { readonly requests: number; readonly since: number }>();
    while (this.#sockets.size > 0 && Date.now() < deadline) {
      const now = performance.now();
      this.#closeQuietH1(quiet, now);
      this.#fast.closeIdle(now, DRAIN_IDLE_GRACE_MS);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Requests still being answered at the deadline are cut: the drain must not call that clean.
    this.cutAtClose = this.ctx.transfers.size;
    for (const s of this.#sockets) s.destroy();
    for (const s of this.#sessions) s.destroy();
    this.ctx.transfers.close();
    // Stops the timeout sweeper started in the constructor (the server itself never listened).
    this.#h1.close(() => {});
    await this.ctx.registry.close();
  }
}
