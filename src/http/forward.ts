/**
 * The hot path: request check → identity → router decision → endpoint of that zone and colour
 * → undici Pool dispatch, streaming both ways with bounded buffering and backpressure.
 *
 * One `Exchange` object per proxied request owns everything it started: the request body stream,
 * the upstream request (through undici's dispatch controller), its place in the client
 * connection's budget and in the idle watch. Whatever ends the exchange first — the upstream's
 * answer, an upstream error, the client closing or resetting, a client idle too long, a body
 * over the limit — ends it once, aborts the upstream request if it is still running, and frees
 * what it held; only upstream-caused failures count against the upstream. No closures per
 * request: undici calls the exchange's methods directly, and the stream listeners are
 * module-level functions that find the exchange through a symbol.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as h2constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher } from 'undici';
import { NoLiveZoneError, ShuttingDownError, ZonegateError } from '../core/errors.js';
import { publishRequestDone } from '../core/events.js';
import type { Identity, RoutedDecision } from '../router/index.js';
import { decide, routeKindFor, shardOf } from '../router/index.js';
import { connectionInfo, type ConnectionInfo } from '../listeners/index.js';
import { groupFor, POOL_DESTROYED, type Endpoint, type EndpointGroup } from '../upstream/index.js';
import { RequestBody, type BodyOwner } from './body-limit.js';
import type { HttpContext } from './context.js';
import {
  BadRequestError,
  BodyTooLargeError,
  InternalError,
  NoUpstreamError,
  UpstreamFailedError,
  UpstreamTimeoutError,
} from './errors.js';
import {
  encodeUidHeader,
  filterResponseHeaders,
  scanRequestHeaders,
  type ScannedRequest,
} from './headers.js';
import { checkRequest, type CheckedTarget } from './request-check.js';
import { REQUEST_ID_HEADER } from '../core/request-id.js';
import { sendError, type AnyResponse } from './respond.js';
import { beginRequest, countBodyBytes, traceOf, type RequestTrace } from './request-trace.js';
import type { Watched } from './transfer-watch.js';
import { rawFieldViews } from './fast/parser.js';
import {
  isIdempotent,
  NO_KEPT_LINES,
  requestHeadBytes,
  UpstreamCall,
  type CallHandler,
} from './upstream-call.js';

export type AnyRequest = IncomingMessage | Http2ServerRequest;

/** Errors meaning "the TCP connect failed": nothing reached the upstream, so a retry is safe. */
export const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
]);
/** undici refusing what we asked it to send: a gap in the request check, never the upstream's fault. */
export const REQUEST_REFUSED = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/** Reasons (metrics / access log) for exchanges the client ended. */
export const CLIENT_CLOSED = 'client-closed';
export const CLIENT_STALLED = 'client-stalled';
/** nginx's status for "client closed the request"; never sent, only counted. */
const STATUS_CLIENT_CLOSED = 499;

/** The abort reason given to undici when the client side ended an exchange (one shared object). */
const CLIENT_GONE = new Error('the client closed, reset or stalled the exchange');

const kCertUid = Symbol('zonegate.certUid');
const kExchange = Symbol('zonegate.exchange');
const kBudget = Symbol('zonegate.upstreamBudget');

interface Carrier {
  [kExchange]?: Exchange;
}
interface WithCertUid {
  [kCertUid]?: string | null;
}
/** Upstream requests in flight for one client connection (h1 socket or h2 session). */
interface Budget {
  active: number;
  waiting: Exchange[] | null;
}
interface WithBudget {
  [kBudget]?: Budget;
}

function onClientClose(this: Carrier): void {
  this[kExchange]?.clientClosed();
}

function onClientError(this: Carrier): void {
  this[kExchange]?.clientClosed();
}

function onResponseDrain(this: Carrier): void {
  this[kExchange]?.drained();
}

function onBodyError(this: Carrier, err: Error): void {
  this[kExchange]?.bodyFailed(err);
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

/**
 * End a response that cannot be completed so the client sees it incomplete. HTTP/1.1: close
 * the connection before the framing's end. HTTP/2: reset the stream with INTERNAL_ERROR — a
 * plain destroy() resets it with NO_ERROR, which clients (curl) take for a complete answer.
 */
function cutResponse(res: AnyResponse, h2: boolean): void {
  if (h2) (res as Http2ServerResponse).stream.close(h2constants.NGHTTP2_INTERNAL_ERROR);
  else res.destroy();
}

/** Whether the client side of a response is gone (`Http2ServerResponse` has no `destroyed`). */
function responseGone(res: AnyResponse, h2: boolean): boolean {
  return h2 ? (res as Http2ServerResponse).stream.destroyed : (res as ServerResponse).destroyed;
}

/**
 * Entry point for every HTTP request (h1 and h2). `h2`: it came over HTTP/2 (the request line's
 * version says nothing reliable). `expectContinue`: the client waits for `100 Continue` before
 * its body, which we send only once the request is going to be forwarded.
 */
export function handleRequest(
  ctx: HttpContext,
  req: AnyRequest,
  res: AnyResponse,
  h2: boolean,
  expectContinue: boolean,
): void {
  // From the first moment: an 'error' on either (a reset mid-body, a write after the socket
  // died) ends the exchange if there is one, and is never an unhandled event.
  req.on('error', onClientError);
  res.on('error', onClientError);
  const cfg = ctx.config;
  const scanned = scanRequestHeaders(req.rawHeaders, cfg.identity.uidHeader, cfg.identity.cookie.name);
  const target: CheckedTarget = { path: '/', host: undefined };
  const method = req.method ?? 'GET';
  const problem = checkRequest(method, req.url ?? '/', req.httpVersion, h2, scanned, target);
  // Request id, trace span, client address (src/http/request-trace.ts); refused requests get
  // one too. The host logged is the checked one (Host, :authority or the absolute target).
  beginRequest(req, {
    requestId: scanned.requestId,
    traceparent: scanned.traceparent,
    host: target.host ?? scanned.host ?? scanned.authority,
    contentLength: scanned.contentLength,
  });
  if (problem !== null) return refuse(ctx, req, res, h2, problem);
  if (scanned.contentLength > cfg.limits.maxBodyBytes) {
    return refuse(ctx, req, res, h2, new BodyTooLargeError(cfg.limits.maxBodyBytes));
  }
  const identity = ctx.identifier.identify(scanned.uid, scanned.cookie, certUidOf(req));
  if (identity instanceof Promise) {
    identity.then(
      (id) => route(ctx, req, res, h2, expectContinue, scanned, target, id),
      () => route(ctx, req, res, h2, expectContinue, scanned, target, { uid: null, source: 'none' }),
    );
  } else {
    route(ctx, req, res, h2, expectContinue, scanned, target, identity);
  }
}

/** Answer a request the gateway will not forward. HTTP/1.1: close after it, the body unread. */
function refuse(ctx: HttpContext, req: AnyRequest, res: AnyResponse, h2: boolean, err: ZonegateError): void {
  // HTTP/2 resets just the stream after the answer (and forbids the header).
  if (!h2 && !res.headersSent) res.setHeader('connection', 'close');
  finish(ctx, req, res, h2, err);
}

function finish(ctx: HttpContext, req: AnyRequest, res: AnyResponse, h2: boolean, err: ZonegateError): void {
  const trace = traceOf(req);
  sendError(res, err, trace);
  publishRequestDone(
    ctx.events,
    h2 ? 'http2' : 'http1',
    '',
    '',
    err.code,
    err.httpStatus,
    trace === null ? 0 : performance.now() - trace.t0,
    '',
    -1,
    req.method ?? 'GET',
    req.url ?? '/',
    trace,
  );
}

/** A bug surfaced while handling a request: the client gets a 500, the operator the stack and a count. */
export function internalError(
  ctx: HttpContext,
  req: AnyRequest,
  res: AnyResponse,
  h2: boolean,
  err: unknown,
): void {
  const ev = ctx.events.internalError;
  if (ev.active) ev.publish({ protocol: h2 ? 'http2' : 'http1', err });
  const e = new InternalError(err);
  if (responseGone(res, h2)) return;
  try {
    finish(ctx, req, res, h2, e);
  } catch {
    res.destroy();
  }
}

/**
 * Whether a failed attempt may be retried on another endpoint: nothing answered yet, no body
 * (it may be partly sent), an idempotent method, not retried before, and retries configured.
 */
export function retryAllowed(
  ctx: HttpContext,
  method: string,
  retried: boolean,
  bodyless: boolean,
  responded: boolean,
): boolean {
  return (
    !responded &&
    !retried &&
    bodyless &&
    ctx.config.upstream.retryIdempotentOnConnectError &&
    isIdempotent(method)
  );
}

/**
 * Upstream `ep` failed a request (`http`) or a WebSocket upgrade (`ws`) with `code` at `now`:
 * marks it failed (passive ejection counts it) and publishes the error and, when this failure
 * ejected the endpoint, the ejection. The one place both protocols do so: an endpoint ejected
 * by failed upgrades is counted and logged like one ejected by failed requests.
 */
export function endpointFailed(
  ctx: HttpContext,
  protocol: 'http' | 'ws',
  d: RoutedDecision,
  ep: Endpoint,
  code: string,
  now: number,
): void {
  const ejectedBefore = ep.ejectedUntil;
  ep.failed(now);
  const events = ctx.events;
  if (events.upstreamError.active) {
    events.upstreamError.publish({ protocol, zone: d.zone, colour: d.colour, upstream: ep.address, code });
  }
  if (ep.ejectedUntil !== ejectedBefore && events.ejection.active) {
    events.ejection.publish({
      protocol,
      zone: d.zone,
      upstream: ep.address,
      ejectMs: ep.ejectedUntil - now,
      reason: code,
    });
  }
}

/**
 * After an upstream error on `ep`: marks it failed and publishes the error (and the ejection it
 * caused; see {@link endpointFailed}). With `retry` (nothing sent yet, an idempotent request not
 * yet retried) and a connect error, returns another endpoint of the same group to retry on,
 * publishing the retry; else null. Both the fast path and the Node path call this.
 */
export function upstreamFailed(
  ctx: HttpContext,
  routed: Routed,
  ep: Endpoint,
  code: string,
  retry: boolean,
): Endpoint | null {
  // The gateway's shutdown closed the pool under this exchange (our pool or undici's, same
  // code): not the upstream's failure, so nothing is counted against it and nothing retried.
  if (code === POOL_DESTROYED) return null;
  const now = Date.now();
  const d = routed.decision;
  endpointFailed(ctx, 'http', d, ep, code, now);
  if (!retry || !CONNECT_ERRORS.has(code)) return null;
  const events = ctx.events;
  const next = routed.group.pick(ep, now);
  if (next !== null && events.retry.active) {
    events.retry.publish({ zone: d.zone, colour: d.colour, from: ep.address, to: next.address, code });
  }
  return next;
}

/** The error to answer with when upstream `ep` (in `zone`) failed a request with `code`. */
export function upstreamError(ep: Endpoint, zone: string, code: string, err: Error): ZonegateError {
  if (code === POOL_DESTROYED) return new ShuttingDownError();
  const where = `${ep.address} (zone ${zone})`;
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT'
    ? new UpstreamTimeoutError(`upstream ${where} timed out (${code})`, err)
    : new UpstreamFailedError(`upstream ${where} failed: ${err.message}`, err);
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
  path: string,
  scanned: ScannedRequest,
  identity: Identity,
): Routed | ZonegateError {
  const table = ctx.table;
  const info = connectionInfo(req.socket);
  // x-ldc-hop is only believed from a peer gateway; from anyone else it is just stripped.
  const hopped = scanned.hop !== undefined && info !== undefined && table.peerHosts.has(info.remoteAddress);
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

/** The headers the upstream gets: the client's end-to-end ones plus ours, and exactly one Host. */
export function upstreamHeaders(
  ctx: HttpContext,
  scanned: ScannedRequest,
  r: Routed,
  uid: string | null,
  host: string | undefined,
): string[] {
  const h = scanned.out;
  const d = r.decision;
  if (host !== undefined) h.push('host', host);
  h.push('x-ldc-zone', d.zone, 'x-ldc-colour', d.colour);
  // Percent-encoded UTF-8 (src/identity/uid-header.ts): any uid fits in a header, exactly.
  if (uid !== null) h.push(ctx.config.identity.uidHeader, encodeUidHeader(uid));
  if (r.hopped && scanned.forwarded !== null) {
    // The peer gateway already recorded the client as LVS saw it.
    h.push(...scanned.forwarded);
  } else if (r.info !== undefined) {
    h.push('x-forwarded-for', r.info.remoteAddress, 'x-forwarded-proto', r.info.secure ? 'https' : 'http');
    h.push('x-forwarded-port', String(r.info.localPort));
    if (host !== undefined) h.push('x-forwarded-host', host);
  }
  if (d.via === 'gateway') h.push('x-ldc-hop', ctx.self.idc);
  return h;
}

function route(
  ctx: HttpContext,
  req: AnyRequest,
  res: AnyResponse,
  h2: boolean,
  expectContinue: boolean,
  scanned: ScannedRequest,
  target: CheckedTarget,
  identity: Identity,
): void {
  // The client may have left while its cookie was being verified.
  if (responseGone(res, h2)) return;
  const r = routeTo(ctx, req, target.path, scanned, identity);
  if (r instanceof ZonegateError) {
    if (expectContinue && !h2) res.setHeader('connection', 'close');
    return finish(ctx, req, res, h2, r);
  }
  const headers = upstreamHeaders(ctx, scanned, r, identity.uid, target.host);
  const trace = traceOf(req);
  trace?.pushUpstreamHeaders(headers); // x-request-id, traceparent with our span
  const hasBody =
    scanned.contentLength > 0 ||
    scanned.chunked ||
    (h2 && scanned.contentLength !== 0 && !(req as Http2ServerRequest).stream.endAfterHeaders);
  const ex = new Exchange(ctx, req, res, h2, r, req.method ?? 'GET', target.path, headers, trace);
  // Only now is the body wanted: never a 100 before a refusal.
  if (expectContinue) res.writeContinue();
  if (hasBody) {
    ex.readBody();
    // Access log bytes in: a declared Content-Length is taken as is, anything else counted.
    if (trace !== null && scanned.contentLength < 0) req.on('data', countBodyBytes);
  } else {
    ex.acquire();
  }
}

/** The client connection an exchange counts against: the h1 socket, or the h2 session. */
function budgetOf(req: AnyRequest, h2: boolean): Budget {
  const owner = (h2 ? (req as Http2ServerRequest).stream.session : req.socket) as unknown as WithBudget;
  let b = owner[kBudget];
  if (b === undefined) {
    b = { active: 0, waiting: null };
    owner[kBudget] = b;
  }
  return b;
}

const OPEN = 0;
/** Waiting for a place in the client connection's budget. */
const QUEUED = 1;
/** Handed to undici (queued in the pool or running). */
const DISPATCHED = 2;
const DONE = 3;

class Exchange implements Dispatcher.DispatchHandler, BodyOwner, Watched {
  readonly ctx: HttpContext;
  readonly req: AnyRequest;
  readonly res: AnyResponse;
  readonly h2: boolean;
  readonly routed: Routed;
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  /** performance.now() at the first dispatch to an upstream; -1 before. */
  dispatchedAt = -1;
  /** First dispatch → upstream response head (queueing for a pooled connection included); -1 until then. */
  upstreamMs = -1;
  readonly trace: RequestTrace | null;
  endpoint: Endpoint;
  body: RequestBody | null = null;
  budget: Budget | null = null;
  /** undici's, for a request with a body. */
  controller: Dispatcher.DispatchController | null = null;
  /** The raw-connection exchange (upstream-call.ts), for a request without one. */
  call: UpstreamCall | null = null;
  state = OPEN;
  retried = false;
  /** Response head written to the client. */
  responded = false;
  /** The upstream is paused until the client drains its buffered response. */
  paused = false;
  /** Reading the client's body and it has not ended yet. */
  uploading = false;
  tick = 0;

  constructor(
    ctx: HttpContext,
    req: AnyRequest,
    res: AnyResponse,
    h2: boolean,
    routed: Routed,
    method: string,
    path: string,
    headers: string[],
    trace: RequestTrace | null,
  ) {
    this.trace = trace;
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.h2 = h2;
    this.routed = routed;
    this.endpoint = routed.endpoint;
    this.method = method;
    this.path = path;
    this.headers = headers;
    (res as AnyResponse & Carrier)[kExchange] = this;
    (req as AnyRequest & Carrier)[kExchange] = this;
    // 'close' on the response: the h1 socket or the h2 stream went away (for a finished
    // exchange it comes after DONE and is ignored).
    res.once('close', onClientClose);
    ctx.transfers.add(this);
  }

  /** Start reading the client's body; the upstream request starts once enough is buffered. */
  readBody(): void {
    const limits = this.ctx.config.limits;
    const body = new RequestBody(limits.maxBodyBytes, limits.requestBufferBytes, this, this.h2);
    (body as RequestBody & Carrier)[kExchange] = this;
    // Listened to from its first moment: an error before undici reads it must not be unhandled.
    body.on('error', onBodyError);
    this.body = body;
    this.uploading = true;
    this.req.pipe(body);
  }

  bodyProgress(): void {
    this.tick = this.ctx.transfers.tick;
  }

  bodyReady(): void {
    if (this.state === OPEN) this.acquire();
  }

  bodyEnded(): Error | null {
    // A reset stream ends its request stream too: never forward that as a complete body.
    if (this.state === DONE || (this.h2 && (this.req as Http2ServerRequest).stream.aborted))
      return CLIENT_GONE;
    this.uploading = false;
    return null;
  }

  /** Take a place in the client connection's budget, or wait for one. */
  acquire(): void {
    const b = budgetOf(this.req, this.h2);
    this.budget = b;
    if (b.active < this.ctx.config.limits.maxUpstreamRequestsPerConnection) {
      b.active++;
      this.dispatch();
    } else {
      this.state = QUEUED;
      (b.waiting ??= []).push(this);
    }
  }

  dispatch(): void {
    this.state = DISPATCHED;
    if (this.dispatchedAt < 0) this.dispatchedAt = performance.now();
    if (this.body === null) {
      // No body: the endpoint's raw keep-alive connections, as the fast path sends (cheaper
      // than undici per request, and the same strict reading of the answer).
      const call = new UpstreamCall(
        this.endpoint,
        new CallFor(this),
        this.method,
        requestHeadBytes(this.method, this.path, NO_KEPT_LINES, this.headers, null),
      );
      this.call = call;
      call.start();
      return;
    }
    this.endpoint.pool.dispatch(
      { path: this.path, method: this.method, headers: this.headers, body: this.body },
      this,
    );
  }

  /** Leave the budget (if in it) and let the next waiting exchange of this connection go. */
  release(): void {
    const b = this.budget;
    if (b === null) return;
    this.budget = null;
    if (this.state === QUEUED) {
      const i = b.waiting?.indexOf(this) ?? -1;
      if (i >= 0) b.waiting!.splice(i, 1);
      return;
    }
    b.active--;
    const w = b.waiting;
    while (w !== null && w.length > 0 && b.active < this.ctx.config.limits.maxUpstreamRequestsPerConnection) {
      const next = w.shift()!;
      if (next.state !== QUEUED) continue;
      b.active++;
      next.dispatch();
    }
  }

  /** End the exchange once: stop the upstream request, free what it held. */
  end(): boolean {
    if (this.state === DONE) return false;
    const wasQueued = this.state === QUEUED;
    if (wasQueued) this.release();
    this.state = DONE;
    this.ctx.transfers.delete(this);
    if (!wasQueued) this.release();
    return true;
  }

  /** The client closed or reset its side before the exchange finished. */
  clientClosed(): void {
    if (!this.end()) return;
    this.abortUpstream();
    this.report(CLIENT_CLOSED, STATUS_CLIENT_CLOSED);
  }

  waitingOnClient(): boolean {
    // An upload blocked by the upstream's backpressure is the upstream's to time out.
    return this.paused || (this.uploading && !(this.body?.writableNeedDrain ?? false));
  }

  /** The transfer watch: the client sent or read nothing for `timeouts.transferIdleTimeoutMs`. */
  idle(): void {
    const uploading = this.uploading;
    if (!this.end()) return;
    this.abortUpstream();
    if (uploading && !this.responded && !responseGone(this.res, this.h2)) {
      const err = new BadRequestError('request body not received in time', 408);
      if (!this.h2) this.res.setHeader('connection', 'close');
      sendError(this.res, err, this.trace);
      this.report(err.code, err.httpStatus);
      return;
    }
    cutResponse(this.res, this.h2);
    this.report(CLIENT_STALLED, STATUS_CLIENT_CLOSED);
  }

  bodyFailed(err: Error): void {
    if (err instanceof BodyTooLargeError) {
      if (!this.end()) return;
      this.abortUpstream();
      if (!this.h2 && !this.res.headersSent) this.res.setHeader('connection', 'close');
      this.fail(err);
      return;
    }
    this.clientClosed();
  }

  abortUpstream(): void {
    const body = this.body;
    if (body !== null && !body.destroyed) {
      this.req.unpipe(body);
      body.destroy();
    }
    // Not yet started on a connection: onRequestStart aborts it when it gets there.
    const c = this.controller;
    if (c !== null && !c.aborted) c.abort(CLIENT_GONE);
    const call = this.call;
    this.call = null;
    call?.abort();
  }

  drained(): void {
    if (this.state === DONE || !this.paused) return;
    this.paused = false;
    this.tick = this.ctx.transfers.tick;
    // Whichever of the two carries the response.
    (this.call ?? this.controller)?.resume();
  }

  // --- undici's dispatch handler (requests with a body); CallFor maps the raw one here ----

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.state === DONE) controller.abort(CLIENT_GONE);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    this.responseStart(controller, statusCode, controller.rawHeaders as Buffer[]);
  }

  responseStart(flow: { pause(): void; resume(): void }, statusCode: number, rawHeaders: Buffer[]): void {
    // 1xx (103) are not relayed; Expect is answered by the gateway itself.
    if (statusCode < 200 || this.state === DONE) return;
    this.upstreamMs = performance.now() - this.dispatchedAt;
    const ctx = this.ctx;
    const out: string[] = [];
    const uid = filterResponseHeaders(rawHeaders, out, ctx.config.identity.uidHeader);
    const d = this.routed.decision;
    if (d.via !== 'gateway') out.push('x-ldc-zone', d.zone, 'x-ldc-colour', d.colour);
    if (ctx.closing && !this.h2) out.push('connection', 'close');
    if (this.trace !== null) out.push(REQUEST_ID_HEADER, this.trace.id);
    if (uid !== undefined && uid !== '' && ctx.keyring !== null) {
      // Step 4–5 of a first visit: the upstream named the user, we pin them with the cookie.
      // The cookie names the uid's home zone (its shard's owner), not whoever served the login.
      const map = ctx.table.map;
      const home = map.zones[map.shardOwner[shardOf(uid, map.shards)] ?? -1]?.name ?? d.zone;
      flow.pause();
      ctx.keyring.sign({ uid, zone: home }).then(
        (value) => {
          out.push('set-cookie', `${ctx.config.identity.cookie.name}=${value}${ctx.cookieAttributes}`);
          this.writeHead(statusCode, out);
          flow.resume();
        },
        () => {
          // A uid that cannot go in a cookie (too long, odd zone name): answer without one.
          this.writeHead(statusCode, out);
          flow.resume();
        },
      );
      return;
    }
    this.writeHead(statusCode, out);
  }

  writeHead(statusCode: number, out: string[]): void {
    this.responded = true;
    if (this.state === DONE) return;
    writeHeadFlat(this.res, statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.responseData(controller, chunk);
  }

  responseData(flow: { pause(): void }, chunk: Buffer): void {
    if (this.state === DONE) return;
    const res = this.res;
    if (this.trace !== null) this.trace.bytesOut += chunk.length;
    // Both response kinds are Writables; their write() overloads just do not unify in TypeScript.
    if ((res as Writable).write(chunk)) return;
    // Past the stream's high-water mark: keep taking the upstream's bytes up to our own buffer
    // bound (a short answer then frees its upstream connection at once), then pause it.
    if (res.writableLength < this.ctx.config.limits.responseBufferBytes || this.paused) return;
    this.paused = true;
    this.tick = this.ctx.transfers.tick;
    flow.pause();
    res.once('drain', onResponseDrain);
  }

  onResponseEnd(): void {
    if (!this.end()) return;
    this.endpoint.succeeded();
    this.res.end();
    this.report(this.routed.decision.reason, this.res.statusCode);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.responseError((err as { code?: string }).code ?? 'UNKNOWN', err);
  }

  responseError(code: string, err: Error): void {
    // Ended by the client side (closed, reset, idle, body too large): handled there, and
    // never the upstream's fault.
    if (this.state === DONE) return;
    if (REQUEST_REFUSED.has(code)) {
      this.end();
      this.abortUpstream();
      internalError(this.ctx, this.req, this.res, this.h2, err);
      return;
    }
    const ep = this.endpoint;
    const retry = retryAllowed(this.ctx, this.method, this.retried, this.body === null, this.responded);
    const next = upstreamFailed(this.ctx, this.routed, ep, code, retry);
    if (next !== null) {
      // Once, and only within the same zone and colour: never silently in another zone.
      this.retried = true;
      this.endpoint = next;
      this.controller = null;
      this.call = null;
      this.dispatch();
      return;
    }
    this.end();
    this.abortUpstream();
    if (this.responded) {
      // Headers are out: all we can do is cut the response so the client sees it incomplete.
      cutResponse(this.res, this.h2);
      this.report(code, this.res.statusCode);
      return;
    }
    this.fail(upstreamError(ep, this.routed.decision.zone, code, err));
  }

  fail(err: ZonegateError): void {
    if (!responseGone(this.res, this.h2)) sendError(this.res, err, this.trace);
    else if (this.trace !== null) this.trace.detail = err.message; // still worth a log line
    this.report(err.code, err.httpStatus);
  }

  report(reason: string, status: number): void {
    if (!this.ctx.events.requestDone.active) return;
    const d = this.routed.decision;
    const now = performance.now();
    const trace = this.trace;
    publishRequestDone(
      this.ctx.events,
      this.h2 ? 'http2' : 'http1',
      d.zone,
      d.colour,
      reason,
      status,
      // Without a trace (never on this path today) the exchange's own start is the best bound.
      trace === null ? now - (this.dispatchedAt < 0 ? now : this.dispatchedAt) : now - trace.t0,
      this.endpoint.address,
      this.upstreamMs,
      this.method,
      this.req.url ?? '/',
      trace,
    );
  }
}

/** The raw-connection exchange's callbacks, for the Exchange that started it (and no later one). */
class CallFor implements CallHandler {
  readonly ex: Exchange;
  constructor(ex: Exchange) {
    this.ex = ex;
  }
  onResponseStart(call: UpstreamCall, status: number, buf: Buffer, fields: readonly number[]): void {
    if (this.ex.call === call) this.ex.responseStart(call, status, rawFieldViews(buf, fields));
  }
  onResponseData(call: UpstreamCall, chunk: Buffer): void {
    if (this.ex.call === call) this.ex.responseData(call, chunk);
  }
  onResponseEnd(call: UpstreamCall): void {
    if (this.ex.call === call) this.ex.onResponseEnd();
  }
  onResponseError(call: UpstreamCall, code: string, err: Error): void {
    if (this.ex.call === call) this.ex.responseError(code, err);
  }
  onReadEnd(): void {
    // Node's ServerResponse decides when its head leaves.
  }
}
