/**
 * The hot path: identity → router decision → endpoint of that zone and colour → undici Pool
 * dispatch, streaming both ways with backpressure. One ForwardHandler object per request
 * and no closures in between (undici's low-level handler API calls its methods directly).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Readable, Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher } from 'undici';
import { NoLiveZoneError, ZonegateError } from '../core/errors.js';
import type { Identity, RoutedDecision } from '../router/index.js';
import { decide, routeKindFor, shardOf } from '../router/index.js';
import { connectionInfo, type ConnectionInfo } from '../listeners/index.js';
import { groupFor, type Endpoint, type EndpointGroup } from '../upstream/index.js';
import { BodyLimit } from './body-limit.js';
import type { HttpContext } from './context.js';
import { BodyTooLargeError, NoUpstreamError, UpstreamFailedError, UpstreamTimeoutError } from './errors.js';
import { filterResponseHeaders, scanRequestHeaders, type ScannedRequest } from './headers.js';
import { sendError, type AnyResponse } from './respond.js';
import { beginRequest, countBodyBytes, traceOf, type RequestTrace } from './request-trace.js';

export type AnyRequest = IncomingMessage | Http2ServerRequest;

/** Errors meaning "the TCP connect failed": nothing reached the upstream, so a retry is safe. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
]);
/** RFC 9110 §9.2.2 idempotent methods. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

const kCertUid = Symbol('zonegate.certUid');

/**
 * The response's forward handler, so the 'close' and 'drain' listeners can be two
 * module-level functions instead of two closures allocated for every request.
 */
const kHandler = Symbol('zonegate.forwardHandler');
interface WithHandler {
  [kHandler]?: ForwardHandler;
}

function onClientClose(this: AnyResponse): void {
  (this as AnyResponse & WithHandler)[kHandler]?.clientClosed();
}

function onResponseDrain(this: AnyResponse): void {
  (this as AnyResponse & WithHandler)[kHandler]?.resume?.();
}
interface WithCertUid {
  [kCertUid]?: string | null;
}

/** Read the client certificate's uid once per connection (the HTTP stage calls this on connect). */
export function rememberCertUid(ctx: HttpContext, socket: TLSSocket): void {
  (socket as TLSSocket & WithCertUid)[kCertUid] = ctx.certUid === null ? null : ctx.certUid(socket);
}

export function certUidOf(req: AnyRequest): string | null {
  return (req.socket as unknown as WithCertUid)[kCertUid] ?? null;
}

/** Node's writeHead takes the flat [name, value, …] form for HTTP/1 and HTTP/2 alike; only the h1 typings say so. */
export function writeHeadFlat(res: AnyResponse, status: number, headers: string[]): void {
  (res as ServerResponse).writeHead(status, headers);
}

export function handleRequest(ctx: HttpContext, req: AnyRequest, res: AnyResponse): void {
  const cfg = ctx.config;
  const scanned = scanRequestHeaders(req.rawHeaders, cfg.identity.uidHeader, cfg.identity.cookie.name);
  beginRequest(req, scanned); // request id, trace span, client address: src/http/request-trace.ts
  if (scanned.contentLength > cfg.limits.maxBodyBytes) {
    // HTTP/1.1: close after the answer instead of reading a body we refuse (HTTP/2 resets just
    // the stream, and forbids the header).
    if (req.httpVersionMajor === 1) res.setHeader('connection', 'close');
    return finish(ctx, req, res, new BodyTooLargeError(cfg.limits.maxBodyBytes), Date.now());
  }
  const identity = ctx.identifier.identify(scanned.uid, scanned.cookie, certUidOf(req));
  if (identity instanceof Promise) {
    identity.then(
      (id) => route(ctx, req, res, scanned, id),
      () => route(ctx, req, res, scanned, { uid: null, source: 'none' }),
    );
  } else {
    route(ctx, req, res, scanned, identity);
  }
}

function finish(
  ctx: HttpContext,
  req: AnyRequest,
  res: AnyResponse,
  err: ZonegateError,
  started: number,
): void {
  const trace = traceOf(req);
  sendError(res, err, trace);
  ctx.hooks.onResponse?.(
    protocolOf(req),
    '',
    '',
    err.code,
    err.httpStatus,
    Date.now() - started,
    req.method ?? 'GET',
    req.url ?? '/',
    '',
    trace,
  );
}

function protocolOf(req: AnyRequest): 'http1' | 'http2' {
  return req.httpVersionMajor === 2 ? 'http2' : 'http1';
}

export interface Routed {
  readonly decision: RoutedDecision;
  readonly group: EndpointGroup;
  readonly endpoint: Endpoint;
  readonly info: ConnectionInfo | undefined;
  readonly hopped: boolean;
}

/** Decide and pick an endpoint; an error instead when nothing can serve the request. */
export function routeTo(
  ctx: HttpContext,
  req: AnyRequest,
  scanned: ScannedRequest,
  identity: Identity,
): Routed | ZonegateError {
  const table = ctx.table;
  const info = connectionInfo(req.socket);
  // x-ldc-hop is only believed from a peer gateway; from anyone else it is just stripped.
  const hopped = scanned.hop !== undefined && info !== undefined && table.peerHosts.has(info.remoteAddress);
  const path = req.url ?? '/';
  const decision = decide(identity, routeKindFor(table.map, path), table.map, ctx.self, Math.random, hopped);
  if (!decision.ok) return new NoLiveZoneError(decision.detail);
  const group =
    decision.via === 'gateway'
      ? ctx.registry.gatewayGroup(table, decision.idc)
      : groupFor(table, decision.zoneIndex, decision.colour);
  const endpoint = group.pick(null, Date.now());
  if (endpoint === null) {
    return new NoUpstreamError(
      decision.via === 'gateway'
        ? `IDC ${decision.idc} lists no peer gateway`
        : `zone ${decision.zone} lists no ${decision.colour} http upstream`,
    );
  }
  return { decision, group, endpoint, info, hopped };
}

/** The headers the upstream gets: the client's end-to-end ones plus ours. */
export function upstreamHeaders(
  ctx: HttpContext,
  scanned: ScannedRequest,
  r: Routed,
  uid: string | null,
): string[] {
  const h = scanned.out;
  const d = r.decision;
  h.push('x-ldc-zone', d.zone, 'x-ldc-colour', d.colour);
  if (uid !== null) h.push(ctx.config.identity.uidHeader, uid);
  if (r.hopped && scanned.forwarded !== null) {
    // The peer gateway already recorded the client as LVS saw it.
    h.push(...scanned.forwarded);
  } else if (r.info !== undefined) {
    h.push('x-forwarded-for', r.info.remoteAddress, 'x-forwarded-proto', r.info.secure ? 'https' : 'http');
    h.push('x-forwarded-port', String(r.info.localPort));
    if (scanned.host !== undefined) h.push('x-forwarded-host', scanned.host);
  }
  if (d.via === 'gateway') h.push('x-ldc-hop', ctx.self.idc);
  return h;
}

function route(
  ctx: HttpContext,
  req: AnyRequest,
  res: AnyResponse,
  scanned: ScannedRequest,
  identity: Identity,
): void {
  // The client may have left while its cookie was being verified.
  if (res.destroyed) return;
  const started = Date.now();
  const r = routeTo(ctx, req, scanned, identity);
  if (r instanceof ZonegateError) return finish(ctx, req, res, r, started);
  const headers = upstreamHeaders(ctx, scanned, r, identity.uid);
  const trace = traceOf(req);
  trace?.pushUpstreamHeaders(headers); // x-request-id, traceparent with our span
  // HTTP/2 carries the host in :authority; HTTP/1.1 upstreams need it as Host.
  if (req.httpVersionMajor === 2 && scanned.host !== undefined) headers.push('host', scanned.host);
  const method = req.method ?? 'GET';
  const hasBody =
    scanned.contentLength > 0 ||
    scanned.chunked ||
    (req.httpVersionMajor === 2 &&
      scanned.contentLength !== 0 &&
      !(req as Http2ServerRequest).stream.endAfterHeaders);
  let body: Readable | null = null;
  if (hasBody) {
    body = req;
    if (scanned.contentLength < 0) {
      const limit = new BodyLimit(ctx.config.limits.maxBodyBytes);
      req.pipe(limit);
      if (trace !== null) req.on('data', countBodyBytes); // access log bytes in
      req.on('error', (err) => limit.destroy(err));
      body = limit;
    }
  }
  const h = new ForwardHandler(ctx, req, res, r, method, headers, body, started, trace);
  h.dispatch();
}

class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly ctx: HttpContext;
  readonly req: AnyRequest;
  readonly res: AnyResponse;
  readonly routed: Routed;
  readonly method: string;
  readonly headers: string[];
  readonly body: Readable | null;
  readonly started: number;
  readonly trace: RequestTrace | null;
  endpoint: Endpoint;
  retried = false;
  abort: ((err?: Error) => void) | null = null;
  resume: (() => void) | null = null;
  responded = false;

  constructor(
    ctx: HttpContext,
    req: AnyRequest,
    res: AnyResponse,
    routed: Routed,
    method: string,
    headers: string[],
    body: Readable | null,
    started: number,
    trace: RequestTrace | null,
  ) {
    this.trace = trace;
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.routed = routed;
    this.endpoint = routed.endpoint;
    this.method = method;
    this.headers = headers;
    this.body = body;
    this.started = started;
    (res as AnyResponse & WithHandler)[kHandler] = this;
    res.once('close', onClientClose);
  }

  dispatch(): void {
    this.endpoint.pool.dispatch(
      {
        path: this.req.url ?? '/',
        method: this.method,
        headers: this.headers,
        body: this.body,
      },
      this,
    );
  }

  clientClosed(): void {
    // The client went away mid-request: stop the upstream side too.
    if (!this.responded && this.abort !== null) this.abort(new Error('client closed the connection'));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, _statusText: string): boolean {
    // 1xx (100-continue, 103) are not relayed: Node answers 100-continue to the client itself.
    if (statusCode < 200) return true;
    this.resume = resume;
    const ctx = this.ctx;
    const out: string[] = [];
    const uid = filterResponseHeaders(rawHeaders, out, ctx.config.identity.uidHeader);
    const d = this.routed.decision;
    if (d.via !== 'gateway') out.push('x-ldc-zone', d.zone, 'x-ldc-colour', d.colour);
    if (ctx.closing && this.req.httpVersionMajor === 1) out.push('connection', 'close');
    if (this.trace !== null) out.push('x-request-id', this.trace.id);
    if (uid !== undefined && uid !== '' && ctx.keyring !== null) {
      // Step 4–5 of a first visit: the upstream named the user, we pin them with the cookie.
      // The cookie names the uid's home zone (its shard's owner), not whoever served the login.
      const map = ctx.table.map;
      const home = map.zones[map.shardOwner[shardOf(uid, map.shards)] ?? -1]?.name ?? d.zone;
      ctx.keyring.sign({ uid, zone: home }).then(
        (value) => {
          out.push('set-cookie', `${ctx.config.identity.cookie.name}=${value}${ctx.cookieAttributes}`);
          this.writeHead(statusCode, out);
          resume();
        },
        () => {
          // A uid that cannot go in a cookie (too long, odd zone name): answer without one.
          this.writeHead(statusCode, out);
          resume();
        },
      );
      return false;
    }
    this.writeHead(statusCode, out);
    return true;
  }

  writeHead(statusCode: number, out: string[]): void {
    this.responded = true;
    if (this.res.destroyed) return;
    writeHeadFlat(this.res, statusCode, out);
  }

  onData(chunk: Buffer): boolean {
    if (this.res.destroyed) {
      // The client left while the upstream was still sending: stop reading it.
      this.abort?.(new Error('client closed the connection'));
      return false;
    }
    // Both response kinds are Writables; their write() overloads just do not unify in TypeScript.
    if (this.trace !== null) this.trace.bytesOut += chunk.length;
    const ok = (this.res as Writable).write(chunk);
    if (!ok) this.res.once('drain', onResponseDrain);
    return ok;
  }

  onComplete(_trailers: string[] | null): void {
    this.endpoint.succeeded();
    this.res.end();
    this.res.off('close', onClientClose);
    const d = this.routed.decision;
    this.ctx.hooks.onResponse?.(
      protocolOf(this.req),
      d.zone,
      d.colour,
      d.reason,
      this.res.statusCode,
      Date.now() - this.started,
      this.method,
      this.req.url ?? '/',
      this.endpoint.address,
      this.trace,
    );
  }

  onError(err: Error): void {
    const res = this.res;
    res.off('close', onClientClose);
    if (res.destroyed || (res as ServerResponse).writableEnded) return;
    if (err instanceof BodyTooLargeError) {
      this.fail(err);
      return;
    }
    const code = (err as { code?: string }).code ?? 'UNKNOWN';
    const now = Date.now();
    const ep = this.endpoint;
    ep.failed(now);
    this.ctx.hooks.onUpstreamError?.(ep.address, code);
    if (!this.responded && CONNECT_ERRORS.has(code) && this.canRetry()) {
      const next = this.routed.group.pick(ep, now);
      if (next !== null) {
        // Once, and only within the same zone and colour: never silently in another zone.
        this.retried = true;
        this.ctx.hooks.onRetry?.(ep.address, next.address);
        this.endpoint = next;
        res.once('close', onClientClose);
        this.dispatch();
        return;
      }
    }
    if (this.responded) {
      // Headers are out: all we can do is cut the response so the client sees it incomplete.
      res.destroy(err);
      return;
    }
    const where = `${ep.address} (zone ${this.routed.decision.zone})`;
    if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
      this.fail(new UpstreamTimeoutError(`upstream ${where} timed out (${code})`, err));
    } else {
      this.fail(new UpstreamFailedError(`upstream ${where} failed: ${err.message}`, err));
    }
  }

  canRetry(): boolean {
    return (
      !this.retried &&
      this.body === null &&
      this.ctx.config.upstream.retryIdempotentOnConnectError &&
      IDEMPOTENT.has(this.method)
    );
  }

  fail(err: ZonegateError): void {
    const d = this.routed.decision;
    sendError(this.res, err, this.trace);
    this.ctx.hooks.onResponse?.(
      protocolOf(this.req),
      d.zone,
      d.colour,
      err.code,
      err.httpStatus,
      Date.now() - this.started,
      this.method,
      this.req.url ?? '/',
      this.endpoint.address,
      this.trace,
    );
  }
}
