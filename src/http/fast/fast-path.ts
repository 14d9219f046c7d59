/**
 * The HTTP/1.1 keep-alive fast path on raw sockets. A plain client connection is read here
 * first: a request head that arrives whole, parses under the strict parser (parser.ts), is
 * HTTP/1.1, asks for no Upgrade and no Expect, and passes the same request check as Node's path
 * is served here — identity, routing, header rewriting and error answers through the very
 * functions forward.ts uses — with its body and its response relayed by their framing to a
 * pooled keep-alive upstream connection. Anything else (a partial head, a refusal, HTTP/1.0, a
 * WebSocket, a request the check refuses) is handed with the bytes already read to Node's
 * server, which answers it exactly as it answers every request today.
 *
 * One exchange at a time per connection; bytes a client pipelines behind it wait (the socket is
 * paused) until its response is done.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ZonegateError } from '../../core/errors.js';
import type { Identity } from '../../router/index.js';
import { shardOf } from '../../router/index.js';
import type { EdgePolicy } from '../../listeners/index.js';
import type { Endpoint } from '../../upstream/index.js';
import type { HttpContext } from '../context.js';
import {
  BadRequestError,
  BodyTooLargeError,
  InternalError,
  UpstreamFailedError,
  UpstreamTimeoutError,
} from '../errors.js';
import {
  CLIENT_CLOSED,
  CLIENT_STALLED,
  CONNECT_ERRORS,
  IDEMPOTENT,
  routeTo,
  upstreamHeaders,
  type Routed,
} from '../forward.js';
import { filterResponseHeaders, scanRequestHeaders, type ScannedRequest } from '../headers.js';
import { checkRequest, type CheckedTarget } from '../request-check.js';
import { REQUEST_ID_HEADER } from '../request-id.js';
import { beginRequest, type RequestTrace } from '../request-trace.js';
import { errorBody } from '../respond.js';
import type { Watched } from '../transfer-watch.js';
import { ChunkedDecoder, parseRequestHead, rawFields, type ChunkSink, type Framing } from './parser.js';
import { parseResponseHead, type ResponseFraming } from './response-head.js';
import { RawPool, type PoolUser } from './upstream-pool.js';

/** nginx's "client closed request"; only counted, never sent. */
const STATUS_CLIENT_CLOSED = 499;
/** The upstream answered something that is not a well-framed HTTP/1.1 response head. */
const BAD_RESPONSE = 'ZG_FAST_BAD_RESPONSE';
const CRLF = '\r\n';
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF_BUF = Buffer.from(CRLF, 'latin1');

/**
 * Every finished or refused request is published here and only here: the one place to switch
 * from the hooks to another event stream.
 */
function publishDone(
  ctx: HttpContext,
  zone: string,
  colour: string,
  reason: string,
  status: number,
  ms: number,
  method: string,
  target: string,
  upstream: string,
  trace: RequestTrace | null,
): void {
  ctx.hooks.onResponse?.('http1', zone, colour, reason, status, ms, method, target, upstream, trace);
}

let cachedDate = '';
let cachedDateAt = 0;
/** The Date field Node adds to each response, formatted once per second. */
function httpDate(): string {
  const now = Date.now();
  if (now - cachedDateAt >= 1000) {
    cachedDateAt = now - (now % 1000);
    cachedDate = new Date(now).toUTCString();
  }
  return cachedDate;
}

export interface FastPathOptions {
  readonly ctx: HttpContext;
  readonly edge: EdgePolicy;
  /** Give the connection to Node's HTTP server, with the bytes already read from it. */
  readonly handOff: (socket: Socket, bytes: Buffer | null) => void;
}

export class FastPath {
  readonly ctx: HttpContext;
  readonly edge: EdgePolicy;
  readonly handOff: (socket: Socket, bytes: Buffer | null) => void;
  readonly #pools = new Map<Endpoint, RawPool>();
  readonly #conns = new Set<FastConnection>();

  constructor(o: FastPathOptions) {
    this.ctx = o.ctx;
    this.edge = o.edge;
    this.handOff = o.handOff;
  }

  /** Take a plain HTTP/1 client connection. */
  serve(socket: Socket): void {
    this.#conns.add(new FastConnection(this, socket));
  }

  forget(c: FastConnection): void {
    this.#conns.delete(c);
  }

  pool(ep: Endpoint): RawPool {
    let p = this.#pools.get(ep);
    if (p === undefined) {
      const cfg = this.ctx.config;
      p = new RawPool(ep, {
        connections: cfg.upstream.connectionsPerEndpoint,
        connectTimeoutMs: cfg.timeouts.upstreamConnectTimeoutMs,
        idleTimeoutMs: cfg.timeouts.upstreamIdleTimeoutMs,
      });
      this.#pools.set(ep, p);
    }
    return p;
  }

  /** Graceful close: connections between requests go now; busy ones close after their response. */
  closeIdle(): void {
    for (const c of this.#conns) c.closeIfIdle();
  }

  close(): void {
    for (const p of this.#pools.values()) p.close();
    this.#pools.clear();
  }
}

/** Connection phases. */
const IDLE = 0;
/** Head read; identifying, routing, or waiting for an upstream connection. */
const ROUTING = 1;
/** An upstream connection carries the exchange. */
const ACTIVE = 2;
/** Handed to Node's server, or gone. */
const GONE = 3;

class FastConnection implements PoolUser, Watched {
  readonly fp: FastPath;
  readonly ctx: HttpContext;
  readonly socket: Socket;
  /** What routeTo / beginRequest read of a request: its socket (and the trace hung on it). */
  readonly reqLike: IncomingMessage;
  phase = IDLE;
  /** Read and not yet consumed: a partial next head, pipelined requests, body before the upstream. */
  pending: Buffer | null = null;
  /** No request finished on this connection yet (its head timeout answers 408). */
  first = true;
  // --- the current exchange ----------------------------------------------------------------
  method = '';
  target = '';
  path = '';
  scanned: ScannedRequest | null = null;
  checked: CheckedTarget = { path: '/', host: undefined };
  trace: RequestTrace | null = null;
  routed: Routed | null = null;
  endpoint: Endpoint | null = null;
  hsts: string | undefined = undefined;
  counted: boolean | null = null;
  started = 0;
  requestStarted = 0;
  clientClose = false;
  closeAfter = false;
  upHead = '';
  reqFraming: Framing = 'none';
  reqRemaining = 0;
  reqDecoder: ChunkedDecoder | null = null;
  bodyBytes = 0;
  overLimit = false;
  uploading = false;
  retried = false;
  staleRetries = 0;
  up: Socket | null = null;
  upReused = false;
  upError: (Error & { code?: string }) | null = null;
  upBytes = false;
  resBuf: Buffer | null = null;
  headDone = false;
  status = 0;
  resFraming: ResponseFraming = 'none';
  resRemaining = 0;
  resDecoder: ChunkedDecoder | null = null;
  reusable = false;
  responded = false;
  paused = false;
  tick = 0;

  constructor(fp: FastPath, socket: Socket) {
    this.fp = fp;
    this.ctx = fp.ctx;
    this.socket = socket;
    this.reqLike = { socket } as unknown as IncomingMessage;
    socket.on('data', this.onClientData);
    socket.on('end', this.onClientEnd);
    socket.on('close', this.onClientClose);
    socket.on('drain', this.onClientDrain);
    socket.on('timeout', this.onClientTimeout);
    socket.setTimeout(this.ctx.config.timeouts.headersTimeoutMs);
    // Bytes read past a PROXY header may already wait in the stream (stage.ts).
    socket.resume();
  }

  // --- client side -------------------------------------------------------------------------

  readonly onClientData = (chunk: Buffer): void => {
    try {
      this.clientData(chunk);
    } catch (err) {
      this.internal(err);
    }
  };

  clientData(chunk: Buffer): void {
    if (this.phase === IDLE) {
      const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
      this.pending = null;
      this.begin(buf);
    } else if (this.phase === ACTIVE && this.uploading && this.pending === null) {
      this.relayBody(chunk, 0);
    } else {
      this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
      this.socket.pause();
    }
  }

  /** A bug surfaced while serving a request: a 500 for the client, the stack for the operator (forward.ts). */
  internal(err: unknown): void {
    const ctx = this.ctx;
    ctx.hooks.onInternalError?.(err);
    try {
      if (this.phase === GONE || this.socket.destroyed) return;
      this.abortUpstream();
      if (this.responded) {
        this.socket.destroy();
        this.report(CLIENT_CLOSED, this.status);
        this.endExchange();
        this.phase = GONE;
        return;
      }
      const e = new InternalError(err);
      const close = this.uploading || this.clientClose || ctx.closing || this.closeAfter;
      this.writeError(e, this.trace, close);
      publishDone(
        ctx,
        '',
        '',
        e.code,
        e.httpStatus,
        Date.now() - this.requestStarted,
        this.method,
        this.target,
        '',
        this.trace,
      );
      this.endExchange();
      this.next(close);
    } catch {
      this.phase = GONE;
      this.socket.destroy();
    }
  }

  /** The client ended its side (a request then FIN still gets its answer: stage.ts). */
  readonly onClientEnd = (): void => {
    if (this.phase === IDLE) {
      if (this.pending === null) this.socket.end();
      else this.handOffNow(this.takePending());
      return;
    }
    if (this.uploading) {
      this.clientGone(CLIENT_CLOSED);
      this.socket.destroy();
      return;
    }
    this.closeAfter = true;
  };

  readonly onClientClose = (): void => {
    this.fp.forget(this);
    if (this.phase === ROUTING || this.phase === ACTIVE) this.clientGone(CLIENT_CLOSED);
    this.phase = GONE;
  };

  readonly onClientDrain = (): void => {
    if (!this.paused || this.phase !== ACTIVE) return;
    this.paused = false;
    this.tick = this.ctx.transfers.tick;
    this.up?.resume();
  };

  /** Between requests: the head timeout (first request) or the keep-alive idle timeout. */
  readonly onClientTimeout = (): void => {
    if (this.phase !== IDLE) return;
    if (this.first && this.pending === null) {
      // As stage.ts answers Node's own head timeout.
      const e = new BadRequestError('request not received in time', 408);
      this.writeError(e, null, true);
      publishDone(this.ctx, '', '', e.code, e.httpStatus, 0, '', '', '', null);
      return;
    }
    this.phase = GONE;
    this.socket.destroy();
  };

  closeIfIdle(): void {
    if (this.phase === IDLE && this.pending === null) {
      this.phase = GONE;
      this.socket.destroy();
    }
  }

  takePending(): Buffer | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  handOffNow(bytes: Buffer | null): void {
    this.phase = GONE;
    this.fp.forget(this);
    const s = this.socket;
    s.removeListener('data', this.onClientData);
    s.removeListener('end', this.onClientEnd);
    s.removeListener('close', this.onClientClose);
    s.removeListener('drain', this.onClientDrain);
    s.removeListener('timeout', this.onClientTimeout);
    s.setTimeout(0);
    s.pause();
    this.fp.handOff(s, bytes);
  }

  /** A request head starts at `buf[0]`. */
  begin(buf: Buffer): void {
    const ctx = this.ctx;
    const cfg = ctx.config;
    const head = parseRequestHead(buf, cfg.limits.maxHeaderBytes);
    if (head === null) {
      // A head in pieces: Node's parser reads it with its own head timeout.
      this.handOffNow(buf);
      return;
    }
    if (head.rejected !== undefined || head.upgrade || head.expect || head.minor !== 1) {
      this.handOffNow(buf);
      return;
    }
    const scanned = scanRequestHeaders(
      rawFields(buf, head),
      cfg.identity.uidHeader,
      cfg.identity.cookie.name,
    );
    const checked: CheckedTarget = { path: '/', host: undefined };
    if (
      checkRequest(head.method, head.target, '1.1', false, scanned, checked) !== null ||
      scanned.contentLength > cfg.limits.maxBodyBytes
    ) {
      // Refused the way Node's path refuses it (400 / 413 and close).
      this.handOffNow(buf);
      return;
    }
    // Ours from here.
    const socket = this.socket;
    socket.setTimeout(0);
    socket.pause();
    this.phase = ROUTING;
    this.method = head.method;
    this.target = head.target;
    this.path = checked.path;
    this.scanned = scanned;
    this.checked = checked;
    this.clientClose = head.close;
    this.reqFraming = head.framing;
    this.reqRemaining = head.framing === 'length' ? head.contentLength : 0;
    this.uploading = head.framing === 'chunked' || this.reqRemaining > 0;
    this.reqDecoder = head.framing === 'chunked' ? new ChunkedDecoder(cfg.limits.maxHeaderBytes) : null;
    if (buf.length > head.length) this.pending = buf.subarray(head.length);
    this.requestStarted = Date.now();
    const edge = this.fp.edge;
    this.hsts = edge.hsts(socket);
    const counted = edge.allowRequest(socket) ? edge.startRequest(socket) : false;
    if (counted === false) {
      // As stage.ts answers it; the body (if any) is not read, so the connection closes.
      const e = edge.rateLimited;
      this.writeError(e, null, this.uploading || this.clientClose || ctx.closing);
      publishDone(ctx, '', '', e.code, 429, 0, '', '', '', null);
      this.endExchange();
      this.next(this.uploading);
      return;
    }
    this.counted = counted;
    this.trace = beginRequest(this.reqLike, {
      requestId: scanned.requestId,
      traceparent: scanned.traceparent,
      host: checked.host ?? scanned.host,
      contentLength: scanned.contentLength,
    });
    const identity = ctx.identifier.identify(scanned.uid, scanned.cookie, null);
    if (identity instanceof Promise) {
      identity.then(
        (id) => this.routeSafely(id),
        () => this.routeSafely({ uid: null, source: 'none' }),
      );
    } else {
      this.route(identity);
    }
  }

  routeSafely(identity: Identity): void {
    try {
      this.route(identity);
    } catch (err) {
      this.internal(err);
    }
  }

  route(identity: Identity): void {
    if (this.phase !== ROUTING) return;
    const ctx = this.ctx;
    this.started = Date.now();
    const r = routeTo(ctx, this.reqLike, this.path, this.scanned!, identity);
    if (r instanceof ZonegateError) {
      this.refuse(r);
      return;
    }
    this.routed = r;
    this.endpoint = r.endpoint;
    const headers = upstreamHeaders(ctx, this.scanned!, r, identity.uid, this.checked.host);
    this.trace?.pushUpstreamHeaders(headers);
    let h = `${this.method} ${this.path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) h += `${headers[i]}: ${headers[i + 1]}\r\n`;
    if (this.reqFraming === 'chunked') h += 'transfer-encoding: chunked\r\n';
    this.upHead = h + CRLF;
    ctx.transfers.add(this);
    this.fp.pool(r.endpoint).acquire(this);
  }

  /** Answer a request the gateway does not forward (routing found nothing), as forward.ts does. */
  refuse(err: ZonegateError): void {
    this.writeError(err, this.trace, this.uploading || this.clientClose || this.ctx.closing);
    publishDone(
      this.ctx,
      '',
      '',
      err.code,
      err.httpStatus,
      Date.now() - this.started,
      this.method,
      this.target,
      '',
      this.trace,
    );
    this.endExchange();
    this.next(this.uploading);
  }

  // --- request body --------------------------------------------------------------------------

  readonly reqSink: ChunkSink = {
    chunkData: (buf: Buffer, start: number, end: number): void => {
      const n = end - start;
      this.bodyBytes += n;
      if (this.bodyBytes > this.ctx.config.limits.maxBodyBytes) {
        this.overLimit = true;
        return;
      }
      if (this.overLimit) return;
      const up = this.up!;
      up.write(`${n.toString(16)}\r\n`, 'latin1');
      up.write(buf.subarray(start, end));
      up.write(CRLF_BUF);
    },
  };

  relayBody(buf: Buffer, start: number): void {
    const up = this.up!;
    const ctx = this.ctx;
    this.tick = ctx.transfers.tick;
    if (Date.now() - this.requestStarted > ctx.config.timeouts.requestTimeoutMs) {
      this.clientStalled(true);
      return;
    }
    let ok = true;
    let stop = buf.length;
    if (this.reqFraming === 'length') {
      const n = Math.min(this.reqRemaining, buf.length - start);
      stop = start + n;
      ok = up.write(start === 0 && n === buf.length ? buf : buf.subarray(start, stop));
      this.reqRemaining -= n;
      if (this.reqRemaining === 0) this.uploading = false;
    } else {
      const d = this.reqDecoder!;
      up.cork();
      const r = d.feed(buf, start, buf.length, this.reqSink);
      if (this.trace !== null) this.trace.bytesIn = this.bodyBytes;
      if (this.overLimit) {
        up.uncork();
        this.bodyTooLarge();
        return;
      }
      if (typeof r === 'string') {
        up.uncork();
        this.badBody(r);
        return;
      }
      stop = r;
      if (d.done) {
        up.write(LAST_CHUNK);
        this.uploading = false;
      }
      up.uncork();
      ok = up.writableLength < ctx.config.limits.requestBufferBytes;
    }
    if (stop < buf.length) {
      this.pending = buf.subarray(stop);
      this.socket.pause();
    } else if (!ok) {
      // Upstream backpressure: read no more from the client until it drains.
      this.socket.pause();
    } else if (this.uploading) {
      this.socket.resume();
    }
    if (!this.uploading) this.socket.pause();
  }

  bodyTooLarge(): void {
    const err = new BodyTooLargeError(this.ctx.config.limits.maxBodyBytes);
    this.abortUpstream();
    if (!this.responded) {
      this.writeError(err, this.trace, true);
    } else {
      this.socket.destroy();
    }
    this.report(err.code, err.httpStatus);
    this.endExchange();
    this.phase = GONE;
  }

  /** A chunked body that breaks its framing: 400 and close, as Node's parser answers it. */
  badBody(code: string): void {
    const err = new BadRequestError(`malformed request: ${code}`);
    this.abortUpstream();
    if (!this.responded) this.writeError(err, this.trace, true);
    else this.socket.destroy();
    this.report(err.code, err.httpStatus);
    this.endExchange();
    this.phase = GONE;
  }

  // --- upstream side -------------------------------------------------------------------------

  upstreamReady(socket: Socket, reused: boolean): void {
    if (this.phase !== ROUTING) {
      // The client left while we waited: the connection is clean, give it back.
      this.fp.pool(this.endpoint!).release(socket);
      return;
    }
    this.phase = ACTIVE;
    this.up = socket;
    this.upReused = reused;
    this.upError = null;
    this.upBytes = false;
    socket.on('data', this.onUpData);
    socket.on('end', this.onUpEnd);
    socket.on('close', this.onUpClose);
    socket.on('error', this.onUpError);
    socket.on('timeout', this.onUpTimeout);
    socket.on('drain', this.onUpDrain);
    socket.setTimeout(this.ctx.config.timeouts.upstreamResponseTimeoutMs);
    socket.write(this.upHead, 'latin1');
    const p = this.takePending();
    if (p !== null && this.uploading) this.relayBody(p, 0);
    else {
      if (p !== null) this.pending = p;
      if (this.uploading) this.socket.resume();
    }
  }

  upstreamFailed(err: Error & { code?: string }): void {
    if (this.phase !== ROUTING) return;
    this.upstreamError(err.code ?? 'UNKNOWN', err);
  }

  detachUp(): Socket | null {
    const s = this.up;
    if (s === null) return null;
    this.up = null;
    s.removeListener('data', this.onUpData);
    s.removeListener('end', this.onUpEnd);
    s.removeListener('close', this.onUpClose);
    s.removeListener('error', this.onUpError);
    s.removeListener('timeout', this.onUpTimeout);
    s.removeListener('drain', this.onUpDrain);
    s.setTimeout(0);
    if (s.isPaused()) s.resume();
    return s;
  }

  abortUpstream(): void {
    const s = this.detachUp();
    if (s !== null) this.fp.pool(this.endpoint!).discard(s);
    else if (this.phase === ROUTING && this.endpoint !== null) this.fp.pool(this.endpoint).cancel(this);
  }

  readonly onUpDrain = (): void => {
    if (this.uploading && this.pending === null) this.socket.resume();
  };

  readonly onUpError = (err: Error & { code?: string }): void => {
    this.upError = err;
  };

  readonly onUpTimeout = (): void => {
    if (this.paused) return;
    const e = new Error('upstream did not answer in time') as Error & { code: string };
    e.code = this.headDone ? 'UND_ERR_BODY_TIMEOUT' : 'UND_ERR_HEADERS_TIMEOUT';
    this.upstreamError(e.code, e);
  };

  readonly onUpEnd = (): void => {
    if (this.headDone && this.resFraming === 'close') {
      this.reusable = false;
      this.responseDone();
      return;
    }
    this.onUpClose();
  };

  readonly onUpClose = (): void => {
    if (this.phase !== ACTIVE) return;
    const err = this.upError ?? Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    // A kept-alive connection the upstream closed just as we reused it: nothing was read or
    // acted on, so a body-less request goes again on another connection, as undici does.
    if (this.upReused && !this.upBytes && this.reqFraming === 'none' && this.staleRetries < 2) {
      this.staleRetries++;
      this.detachUp();
      this.fp.pool(this.endpoint!).closed();
      this.phase = ROUTING;
      this.fp.pool(this.endpoint!).acquire(this);
      return;
    }
    this.upstreamError(err.code ?? 'UND_ERR_SOCKET', err);
  };

  upstreamError(code: string, err: Error): void {
    const ctx = this.ctx;
    const now = Date.now();
    const ep = this.endpoint!;
    this.abortUpstream();
    ep.failed(now);
    ctx.hooks.onUpstreamError?.(ep.address, code);
    if (!this.responded && CONNECT_ERRORS.has(code) && this.canRetry()) {
      const next = this.routed!.group.pick(ep, now);
      if (next !== null) {
        // Once, and only within the same zone and colour (forward.ts).
        this.retried = true;
        ctx.hooks.onRetry?.(ep.address, next.address);
        this.endpoint = next;
        this.phase = ROUTING;
        this.fp.pool(next).acquire(this);
        return;
      }
    }
    if (this.responded) {
      this.socket.destroy();
      this.report(code, this.status);
      this.endExchange();
      this.phase = GONE;
      return;
    }
    const where = `${ep.address} (zone ${this.routed!.decision.zone})`;
    const e =
      code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT'
        ? new UpstreamTimeoutError(`upstream ${where} timed out (${code})`, err)
        : new UpstreamFailedError(`upstream ${where} failed: ${err.message}`, err);
    const close = this.uploading || this.clientClose || ctx.closing || this.closeAfter;
    this.writeError(e, this.trace, close);
    this.report(e.code, e.httpStatus);
    this.endExchange();
    this.next(close);
  }

  canRetry(): boolean {
    return (
      !this.retried &&
      this.reqFraming === 'none' &&
      this.ctx.config.upstream.retryIdempotentOnConnectError &&
      IDEMPOTENT.has(this.method)
    );
  }

  // --- response ------------------------------------------------------------------------------

  readonly resSink: ChunkSink = {
    chunkData: (buf: Buffer, start: number, end: number): void => {
      const n = end - start;
      const s = this.socket;
      s.write(`${n.toString(16)}\r\n`, 'latin1');
      s.write(buf.subarray(start, end));
      s.write(CRLF_BUF);
      if (this.trace !== null) this.trace.bytesOut += n;
    },
  };

  readonly onUpData = (chunk: Buffer): void => {
    try {
      this.upData(chunk);
    } catch (err) {
      this.internal(err);
    }
  };

  upData(chunk: Buffer): void {
    this.upBytes = true;
    if (this.headDone) {
      this.relayResponse(chunk, 0);
      return;
    }
    let buf = this.resBuf === null ? chunk : Buffer.concat([this.resBuf, chunk]);
    this.resBuf = null;
    for (;;) {
      const cfg = this.ctx.config;
      const h = parseResponseHead(buf, Math.max(cfg.limits.maxHeaderBytes, 16384), this.method === 'HEAD');
      if (h === null) {
        this.resBuf = buf;
        return;
      }
      if (h === 'bad' || h.status === 101) {
        this.upstreamError(BAD_RESPONSE, new Error('upstream sent a malformed response head'));
        return;
      }
      if (h.status < 200) {
        // 1xx are not relayed (forward.ts); the final answer follows.
        buf = buf.subarray(h.length);
        if (buf.length === 0) return;
        continue;
      }
      this.headDone = true;
      this.status = h.status;
      this.resFraming = h.framing;
      this.resRemaining = h.framing === 'length' ? h.contentLength : 0;
      this.reusable = h.reusable;
      if (h.framing === 'chunked') this.resDecoder = new ChunkedDecoder(16384);
      const raw: Buffer[] = [];
      const f = h.fields;
      for (let i = 0; i < f.length; i += 4) {
        raw.push(buf.subarray(f[i], f[i + 1]), buf.subarray(f[i + 2], f[i + 3]));
      }
      const rest = buf.length > h.length ? buf.subarray(h.length) : null;
      this.startResponse(raw, rest);
      return;
    }
  }

  startResponse(raw: Buffer[], rest: Buffer | null): void {
    const ctx = this.ctx;
    const out: string[] = [];
    const uid = filterResponseHeaders(raw, out, ctx.config.identity.uidHeader);
    const d = this.routed!.decision;
    if (d.via !== 'gateway') out.push('x-ldc-zone', d.zone, 'x-ldc-colour', d.colour);
    if (this.trace !== null) out.push(REQUEST_ID_HEADER, this.trace.id);
    if (uid !== undefined && uid !== '' && ctx.keyring !== null) {
      // First visit: pin the user to the uid's home zone with the cookie (forward.ts).
      const map = ctx.table.map;
      const home = map.zones[map.shardOwner[shardOf(uid, map.shards)] ?? -1]?.name ?? d.zone;
      const up = this.up!;
      up.pause();
      ctx.keyring.sign({ uid, zone: home }).then(
        (value) => {
          out.push('set-cookie', `${ctx.config.identity.cookie.name}=${value}${ctx.cookieAttributes}`);
          this.writeHeadSafely(out, rest, up);
        },
        // A uid that cannot go in a cookie (too long, odd zone name): answer without one.
        () => this.writeHeadSafely(out, rest, up),
      );
      return;
    }
    this.writeHead(out, rest);
  }

  writeHeadSafely(out: string[], rest: Buffer | null, up: Socket): void {
    try {
      this.writeHead(out, rest);
      if (this.up === up) up.resume();
    } catch (err) {
      this.internal(err);
    }
  }

  writeHead(out: string[], rest: Buffer | null): void {
    if (this.phase !== ACTIVE) return;
    const ctx = this.ctx;
    const status = this.status;
    let h = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    let hasDate = false;
    for (let i = 0; i < out.length; i += 2) {
      const name = out[i]!;
      if (name.length === 4 && name.toLowerCase() === 'date') hasDate = true;
      h += `${name}: ${out[i + 1]}\r\n`;
    }
    if (this.hsts !== undefined) h += `strict-transport-security: ${this.hsts}\r\n`;
    if (!hasDate) h += `date: ${httpDate()}\r\n`;
    const f = this.resFraming;
    if (f === 'chunked' || f === 'close') h += 'transfer-encoding: chunked\r\n';
    if (ctx.closing || this.clientClose || this.closeAfter) {
      this.closeAfter = true;
      h += 'connection: close\r\n';
    } else {
      h += `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(ctx.config.timeouts.idleTimeoutMs / 1000)}\r\n`;
    }
    this.responded = true;
    this.up?.setTimeout(ctx.config.timeouts.upstreamResponseTimeoutMs);
    this.socket.write(h + CRLF, 'latin1');
    if (rest !== null) this.relayResponse(rest, 0);
    else if (f === 'none' || (f === 'length' && this.resRemaining === 0)) this.responseDone();
  }

  relayResponse(buf: Buffer, start: number): void {
    if (this.phase !== ACTIVE || !this.responded) return;
    const s = this.socket;
    const f = this.resFraming;
    if (f === 'length') {
      const n = Math.min(this.resRemaining, buf.length - start);
      if (n > 0) s.write(start === 0 && n === buf.length ? buf : buf.subarray(start, start + n));
      this.resRemaining -= n;
      if (this.trace !== null) this.trace.bytesOut += n;
      if (start + n < buf.length) this.reusable = false; // bytes past the response: not ours to guess
      if (this.resRemaining === 0) {
        this.responseDone();
        return;
      }
    } else if (f === 'chunked') {
      s.cork();
      const r = this.resDecoder!.feed(buf, start, buf.length, this.resSink);
      if (typeof r === 'string') {
        s.uncork();
        this.upstreamError(BAD_RESPONSE, new Error(`upstream sent a malformed chunked body (${r})`));
        return;
      }
      if (this.resDecoder!.done) {
        s.write(LAST_CHUNK);
        s.uncork();
        if (r < buf.length) this.reusable = false;
        this.responseDone();
        return;
      }
      s.uncork();
    } else if (f === 'close') {
      if (buf.length > start) this.resSink.chunkData(buf, start, buf.length);
    } else {
      // No body expected, yet bytes came: the connection is out of step; do not reuse it.
      this.reusable = false;
      return;
    }
    if (!this.paused && s.writableLength >= this.ctx.config.limits.responseBufferBytes) {
      // The client reads slower than the upstream sends: stop the upstream until it drains.
      this.paused = true;
      this.tick = this.ctx.transfers.tick;
      this.up?.setTimeout(0);
      this.up?.pause();
    }
  }

  responseDone(): void {
    if (this.phase !== ACTIVE) return;
    const ep = this.endpoint!;
    if (this.resFraming === 'close') this.socket.write(LAST_CHUNK);
    const up = this.detachUp();
    if (up !== null) {
      const pool = this.fp.pool(ep);
      if (this.reusable && !this.uploading && this.resBuf === null) pool.release(up);
      else pool.discard(up);
    }
    ep.succeeded();
    this.report(this.routed!.decision.reason, this.status);
    const close = this.closeAfter || this.uploading;
    this.endExchange();
    this.next(close);
  }

  // --- the exchange's end --------------------------------------------------------------------

  /** The client closed or reset before its answer was done. */
  clientGone(reason: string): void {
    this.abortUpstream();
    this.report(reason, STATUS_CLIENT_CLOSED);
    this.endExchange();
  }

  waitingOnClient(): boolean {
    return this.paused || (this.uploading && this.phase === ACTIVE && (this.up?.writableLength ?? 0) === 0);
  }

  /** The transfer watch: the client sent or read nothing for too long. */
  idle(): void {
    this.clientStalled(false);
  }

  clientStalled(requestTimeout: boolean): void {
    if (this.phase !== ACTIVE && this.phase !== ROUTING) return;
    const uploading = this.uploading;
    this.abortUpstream();
    if (uploading && !this.responded) {
      const err = new BadRequestError(
        requestTimeout ? 'request not received in time' : 'request body not received in time',
        408,
      );
      this.writeError(err, this.trace, true);
      this.report(err.code, err.httpStatus);
    } else {
      this.socket.destroy();
      this.report(CLIENT_STALLED, STATUS_CLIENT_CLOSED);
    }
    this.endExchange();
    this.phase = GONE;
  }

  report(reason: string, status: number): void {
    const d = this.routed?.decision;
    publishDone(
      this.ctx,
      d?.zone ?? '',
      d?.colour ?? '',
      reason,
      status,
      Date.now() - this.started,
      this.method,
      this.target,
      this.endpoint?.address ?? '',
      this.trace,
    );
  }

  /** Free what the exchange held; the connection is IDLE again unless something else says. */
  endExchange(): void {
    this.ctx.transfers.delete(this);
    if (this.counted === true) this.fp.edge.endRequest(this.socket);
    this.counted = null;
    this.phase = IDLE;
    this.scanned = null;
    this.trace = null;
    this.routed = null;
    this.endpoint = null;
    this.reqDecoder = null;
    this.resDecoder = null;
    this.resBuf = null;
    this.headDone = false;
    this.responded = false;
    this.paused = false;
    this.retried = false;
    this.staleRetries = 0;
    this.bodyBytes = 0;
    this.overLimit = false;
    this.upHead = '';
  }

  /** After an answer: close, or read the next request (already buffered, or to come). */
  next(close: boolean): void {
    const s = this.socket;
    if (close || this.ctx.closing || this.clientClose || this.closeAfter || s.readableEnded) {
      this.phase = GONE;
      this.pending = null;
      s.end();
      s.destroySoon();
      return;
    }
    this.uploading = false;
    this.first = false;
    s.setTimeout(this.ctx.config.timeouts.idleTimeoutMs);
    const p = this.takePending();
    if (p !== null) this.begin(p);
    else s.resume();
  }

  /** An error answer on the raw socket, shaped as respond.ts sendError shapes it. */
  writeError(err: ZonegateError, trace: RequestTrace | null, close: boolean): void {
    const s = this.socket;
    if (trace !== null) trace.detail = err.message;
    if (!s.writable) {
      s.destroy();
      return;
    }
    const text = errorBody(err, trace?.id);
    const len = Buffer.byteLength(text);
    if (trace !== null) trace.bytesOut = len;
    let h =
      `HTTP/1.1 ${err.httpStatus} ${STATUS_CODES[err.httpStatus] ?? 'Error'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${len}\r\nx-ldc-reason: ${err.code}\r\n` +
      'cache-control: no-store\r\n';
    if (trace !== null) h += `${REQUEST_ID_HEADER}: ${trace.id}\r\n`;
    if (this.hsts !== undefined) h += `strict-transport-security: ${this.hsts}\r\n`;
    h += `date: ${httpDate()}\r\n`;
    h += close
      ? 'connection: close\r\n'
      : `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(this.ctx.config.timeouts.idleTimeoutMs / 1000)}\r\n`;
    s.write(h + CRLF, 'latin1');
    s.write(text);
    if (close) {
      this.phase = GONE;
      s.end();
      s.destroySoon();
    }
  }
}
