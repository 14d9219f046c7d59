/**
 * The HTTP/1.1 keep-alive fast path. A client connection speaking HTTP/1 (plain, or TLS
 * without ALPN h2, read on the TLS socket's cleartext side) is read here first: a request
 * head that arrives whole, parses under the strict parser (parser.ts), is HTTP/1.1 without a
 * body, asks for no Upgrade and no Expect, and passes the same request check as Node's path
 * is served here — identity, routing, header rewriting, retries, ejection and error answers
 * through the very functions forward.ts uses — without Node's IncomingMessage and
 * ServerResponse, and without undici: the request goes to the endpoint's raw keep-alive
 * connections (upstream-call.ts; same connection limit and timeouts as the endpoint's undici
 * pool, which Node's path keeps using). Anything else (a partial head, a refusal, HTTP/1.0, a body, a WebSocket, a
 * request the check refuses) is handed, with the bytes already read, to Node's server, which
 * answers it exactly as it answers every request today. Bodies go there because that path holds
 * a slow client's small body before it takes an upstream connection (`requestBufferBytes`) and
 * owns the body limits and `100-continue`.
 *
 * One exchange at a time per connection; bytes a client pipelines behind it wait (the socket is
 * paused) until its response is done.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ZonegateError } from '../../core/errors.js';
import { readAsStream, readIntoShared } from '../../core/socket-read.js';
import { publishRequestDone } from '../../core/events.js';
import type { Identity } from '../../router/index.js';
import { shardOf } from '../../router/index.js';
import type { EdgePolicy } from '../../listeners/index.js';
import type { Endpoint } from '../../upstream/index.js';
import type { HttpContext } from '../context.js';
import { BadRequestError, InternalError } from '../errors.js';
import {
  certUidOf,
  CLIENT_CLOSED,
  CLIENT_STALLED,
  retryAllowed,
  routeTo,
  upstreamError,
  upstreamFailed,
  upstreamHeaders,
  type Routed,
} from '../forward.js';
import { RequestFieldScan, ResponseFieldScan, type ScannedRequest } from '../headers.js';
import { checkRequest, type CheckedTarget } from '../request-check.js';
import { beginRequest, type RequestTrace } from '../request-trace.js';
import { rawErrorMessage } from '../respond.js';
import type { Watched } from '../transfer-watch.js';
import { parseRequestHead } from './parser.js';
import { REQUEST_ID_LINE, requestHeadBytes, UpstreamCall, type CallHandler } from '../upstream-call.js';
import { putLatin1 } from '../../core/bytes.js';

/** nginx's "client closed request"; only counted, never sent. */
const STATUS_CLIENT_CLOSED = 499;
const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

/** Every finished or refused request of the fast path is published here and only here. */
function publishDone(
  ctx: HttpContext,
  zone: string,
  colour: string,
  reason: string,
  status: number,
  method: string,
  target: string,
  upstream: string,
  trace: RequestTrace | null,
  upstreamMs = -1,
): void {
  publishRequestDone(
    ctx.events,
    'http1',
    zone,
    colour,
    reason,
    status,
    // From the trace's start, as forward.ts measures it.
    trace === null ? 0 : performance.now() - trace.t0,
    upstream,
    upstreamMs,
    method,
    target,
    trace,
  );
}

const statusLines: string[] = [];
/** `HTTP/1.1 <status> <reason>\r\n`, built once per status. */
function statusLine(status: number): string {
  return (statusLines[status] ??= `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`);
}

let cachedDateLine = '';
let cachedDateAt = 0;
/** The `date` field line Node adds to each response, formatted once per second. */
function dateLine(): string {
  const now = Date.now();
  if (now - cachedDateAt >= 1000) {
    cachedDateAt = now - (now % 1000);
    cachedDateLine = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return cachedDateLine;
}

const ZONE_LINE = 'x-ldc-zone: ';
const COLOUR_LINE = 'x-ldc-colour: ';
const HSTS_LINE = 'strict-transport-security: ';
const CHUNKED_LINE = 'transfer-encoding: chunked\r\n';
const CLOSE_LINE = 'connection: close\r\n';

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
  /** The `connection: keep-alive` lines of every kept-alive answer (the config does not change). */
  readonly keepAlive: string;
  readonly #conns = new Set<FastConnection>();

  constructor(o: FastPathOptions) {
    this.ctx = o.ctx;
    this.edge = o.edge;
    this.handOff = o.handOff;
    this.keepAlive = `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(o.ctx.config.timeouts.idleTimeoutMs / 1000)}\r\n`;
  }

  /** Take an HTTP/1 client connection (plain, or TLS once the handshake is done). */
  serve(socket: Socket): void {
    this.#conns.add(new FastConnection(this, socket));
  }

  forget(c: FastConnection): void {
    this.#conns.delete(c);
  }

  /**
   * Graceful close: a connection that has been between requests for `graceMs` goes now (a
   * request already on its way gets its answer with `connection: close` instead of a reset);
   * busy ones close after their response.
   */
  closeIdle(now: number, graceMs: number): void {
    for (const c of this.#conns) c.closeIfIdle(now, graceMs);
  }
}

/** Connection phases. */
const IDLE = 0;
/** Head read; identifying and routing. */
const ROUTING = 1;
/** Sent to an upstream (or waiting for one of its connections). */
const ACTIVE = 2;
/** Handed to Node's server, or gone. */
const GONE = 3;

class FastConnection implements Watched, CallHandler {
  readonly fp: FastPath;
  readonly ctx: HttpContext;
  readonly socket: Socket;
  /** What routeTo / beginRequest read of a request: its socket (and the trace hung on it). */
  readonly reqLike: IncomingMessage;
  phase = IDLE;
  /** performance.now() when the connection last became IDLE (its start, or its last answer). */
  idleSince = performance.now();
  /** Counts exchanges on this connection: callbacks of an earlier one are ignored. */
  gen = 0;
  /** Read and not yet consumed: a partial next head, pipelined requests. */
  pending: Buffer | null = null;
  /** No request finished on this connection yet (its head timeout answers 408). */
  first = true;
  // --- the current exchange ----------------------------------------------------------------
  method = '';
  target = '';
  path = '';
  scanned: ScannedRequest | null = null;
  /** checkRequest's answer for the current request (one object per connection, rewritten by each). */
  readonly checked: CheckedTarget = { path: '/', host: undefined };
  trace: RequestTrace | null = null;
  routed: Routed | null = null;
  endpoint: Endpoint | null = null;
  /** The request head for the upstream, built once (a retry sends it again). */
  head: Buffer | null = null;
  hsts: string | undefined = undefined;
  counted: boolean | null = null;
  /** performance.now() at the first dispatch to an upstream; -1 before. */
  dispatchedAt = -1;
  /** First dispatch → upstream response head; -1 until then. */
  upstreamMs = -1;
  clientClose = false;
  closeAfter = false;
  retried = false;
  /** The exchange with the upstream; callbacks of any other (an aborted one) are ignored. */
  call: UpstreamCall | null = null;
  status = 0;
  /** The response body goes to the client chunked (the upstream gave no length). */
  chunked = false;
  /** The request head's field offsets (parseRequestHead), read at once by reqScan: one array per connection. */
  readonly fields: number[] = [];
  /** The client's request fields as kept for the upstream (one scan object per connection). */
  readonly reqScan = new RequestFieldScan();
  /** The upstream's response fields as kept for the client (one scan object per connection). */
  readonly scan = new ResponseFieldScan();
  /**
   * The response head is decided and not yet written (it waits for the first body bytes); its
   * fields after the upstream's are the pieces `tail[0…tailN)`, written one after the other
   * (no string is joined per response).
   */
  headHeld = false;
  readonly tail: string[] = [];
  tailN = 0;
  responded = false;
  paused = false;
  tick = 0;

  constructor(fp: FastPath, socket: Socket) {
    this.fp = fp;
    this.ctx = fp.ctx;
    this.socket = socket;
    this.reqLike = { socket } as unknown as IncomingMessage;
    socket.on('data', this.onClientData);
    // Plain TCP: later reads skip the stream and come straight here (src/core/socket-read.ts);
    // what already waits in the stream still comes as 'data'.
    readIntoShared(socket, this.onClientData);
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
      if (this.phase === IDLE) {
        const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
        this.pending = null;
        this.begin(buf);
      } else {
        // Pipelined behind the request being answered: read on once it is done.
        this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
        this.socket.pause();
      }
    } catch (err) {
      this.internal(err);
    }
  };

  /** The client ended its side (a request then FIN still gets its answer: stage.ts). */
  readonly onClientEnd = (): void => {
    if (this.phase === IDLE) {
      if (this.pending === null) this.socket.end();
      else this.handOffNow(this.takePending());
      return;
    }
    this.closeAfter = true;
  };

  readonly onClientClose = (): void => {
    this.fp.forget(this);
    if (this.phase === ROUTING || this.phase === ACTIVE) this.clientGone();
    this.phase = GONE;
  };

  readonly onClientDrain = (): void => {
    if (!this.paused || this.phase !== ACTIVE) return;
    this.paused = false;
    this.tick = this.ctx.transfers.tick;
    this.call?.resume();
  };

  /** Between requests: the head timeout (first request) or the keep-alive idle timeout. */
  readonly onClientTimeout = (): void => {
    if (this.phase !== IDLE) return;
    if (this.first && this.pending === null) {
      // As stage.ts answers Node's own head timeout.
      const e = new BadRequestError('request not received in time', 408);
      this.writeError(e, null, true);
      publishDone(this.ctx, '', '', e.code, e.httpStatus, '', '', '', null);
      return;
    }
    this.phase = GONE;
    this.socket.destroy();
  };

  closeIfIdle(now: number, graceMs: number): void {
    if (this.phase === IDLE && this.pending === null && now - this.idleSince >= graceMs) {
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
    // Node's server (and a WebSocket relay after it) reads the stream: reads go back into it.
    readAsStream(s);
    this.fp.handOff(s, bytes);
  }

  /** A request head starts at `buf[0]`. */
  begin(buf: Buffer): void {
    const ctx = this.ctx;
    const cfg = ctx.config;
    const head = parseRequestHead(buf, cfg.limits.maxHeaderBytes, this.fields);
    if (
      head === null ||
      head.rejected !== undefined ||
      head.upgrade ||
      head.expect ||
      head.minor !== 1 ||
      head.framing !== 'none'
    ) {
      // A head in pieces, refused, or not the ordinary case: Node's parser reads it (with its
      // own head timeout) and Node's path answers it.
      this.handOffNow(buf);
      return;
    }
    // The client's kept field lines stay bytes in `buf` until the upstream head is built (route).
    const scanned = this.reqScan.scan(buf, head.fields, cfg.identity.uidHeader, cfg.identity.cookie.name);
    const checked = this.checked;
    if (checkRequest(head.method, head.target, '1.1', false, scanned, checked) !== null) {
      // Refused the way Node's path refuses it (400 and close).
      this.handOffNow(buf);
      return;
    }
    // Ours from here. The socket's timer stays armed: it only acts between requests
    // (onClientTimeout), and every byte written re-arms it, so no toggling per request. Nor
    // is the socket paused per request: most clients send nothing more until answered, and
    // one that does is paused by its first early bytes (onClientData).
    const socket = this.socket;
    this.phase = ROUTING;
    this.method = head.method;
    this.target = head.target;
    this.path = checked.path;
    this.scanned = scanned;
    this.clientClose = head.close;
    if (buf.length > head.length) this.pending = buf.subarray(head.length);
    const edge = this.fp.edge;
    this.hsts = edge.hsts(socket);
    const counted = edge.allowRequest(socket) ? edge.startRequest(socket) : false;
    if (counted === false) {
      // As stage.ts answers it.
      const e = edge.rateLimited;
      this.writeError(e, null, this.clientClose || ctx.closing);
      publishDone(ctx, '', '', e.code, 429, '', '', '', null);
      this.endExchange();
      this.next(false);
      return;
    }
    this.counted = counted;
    this.trace = beginRequest(this.reqLike, {
      requestId: scanned.requestId,
      traceparent: scanned.traceparent,
      host: checked.host ?? scanned.host,
      contentLength: scanned.contentLength,
    });
    // Over mTLS the listener read the certificate's uid once per connection (stage.ts).
    const identity = ctx.identifier.identify(scanned.uid, scanned.cookie, certUidOf(this.reqLike));
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
    const r = routeTo(ctx, this.reqLike, this.path, this.scanned!, identity);
    if (r instanceof ZonegateError) {
      this.refuse(r);
      return;
    }
    this.routed = r;
    this.endpoint = r.endpoint;
    // Only the gateway's own fields as strings; the client's are copied from its head.
    const added = upstreamHeaders(ctx, this.scanned!, r, identity.uid, this.checked.host);
    // The trace's x-request-id and traceparent are written by requestHeadBytes itself.
    this.head = requestHeadBytes(this.method, this.path, this.reqScan, added, this.trace);
    ctx.transfers.add(this);
    this.dispatch();
  }

  dispatch(): void {
    this.phase = ACTIVE;
    if (this.dispatchedAt < 0) this.dispatchedAt = performance.now();
    const call = new UpstreamCall(this.endpoint!, this, this.method, this.head!);
    this.call = call;
    call.start();
  }

  /** Answer a request the gateway does not forward (routing found nothing), as forward.ts does. */
  refuse(err: ZonegateError): void {
    this.answerError(err, this.clientClose || this.ctx.closing);
  }

  /** Answer `err` for the exchange, publish it without a zone or upstream, and go on (or close). */
  answerError(err: ZonegateError, close: boolean): void {
    this.writeError(err, this.trace, close);
    publishDone(this.ctx, '', '', err.code, err.httpStatus, this.method, this.target, '', this.trace);
    this.endExchange();
    this.next(close);
  }

  /** A bug surfaced while serving a request: a 500 for the client, the stack for the operator (forward.ts). */
  internal(err: unknown): void {
    const ctx = this.ctx;
    const ev = ctx.events.internalError;
    if (ev.active) ev.publish({ protocol: 'http1', err });
    try {
      if (this.phase === GONE || this.socket.destroyed) return;
      this.abortUpstream();
      if (this.responded) {
        this.cut();
        this.report(CLIENT_CLOSED, this.status);
        this.endExchange();
        this.phase = GONE;
        return;
      }
      this.answerError(new InternalError(err), this.clientClose || ctx.closing || this.closeAfter);
    } catch {
      this.phase = GONE;
      this.socket.destroy();
    }
  }

  abortUpstream(): void {
    const c = this.call;
    this.call = null;
    this.gen++;
    // An abort of ours is never the upstream's failure: it reports nothing.
    c?.abort();
  }

  // --- the upstream exchange (upstream-call.ts) --------------------------------------------

  onResponseStart(call: UpstreamCall, statusCode: number, buf: Buffer, fields: readonly number[]): void {
    if (call !== this.call || this.phase !== ACTIVE) return;
    this.upstreamMs = performance.now() - this.dispatchedAt;
    try {
      const ctx = this.ctx;
      // The upstream's fields go on as the bytes it sent, minus what filterResponseHeaders drops.
      const scan = this.scan;
      scan.scan(buf, fields, ctx.config.identity.uidHeader);
      const d = this.routed!.decision;
      this.tailN = 0;
      if (d.via !== 'gateway') {
        this.addTail(ZONE_LINE);
        this.addTail(d.zone);
        this.addTail(CRLF);
        this.addTail(COLOUR_LINE);
        this.addTail(d.colour);
        this.addTail(CRLF);
      }
      if (this.trace !== null) {
        this.addTail(REQUEST_ID_LINE);
        this.addTail(this.trace.id);
        this.addTail(CRLF);
      }
      this.status = statusCode;
      const uid = scan.uid;
      if (uid !== undefined && uid !== '' && ctx.keyring !== null) {
        // First visit: pin the user to the uid's home zone with the cookie (forward.ts).
        const map = ctx.table.map;
        const home = map.zones[map.shardOwner[shardOf(uid, map.shards)] ?? -1]?.name ?? d.zone;
        call.pause();
        const gen = this.gen;
        ctx.keyring.sign({ uid, zone: home }).then(
          (value) => {
            if (this.gen === gen)
              this.writeHeadSafely(
                `set-cookie: ${ctx.config.identity.cookie.name}=${value}${ctx.cookieAttributes}\r\n`,
                call,
              );
          },
          // A uid that cannot go in a cookie (too long, odd zone name): answer without one.
          () => {
            if (this.gen === gen) this.writeHeadSafely(null, call);
          },
        );
        return;
      }
      this.writeHead(null);
    } catch (err) {
      this.internal(err);
    }
  }

  addTail(piece: string): void {
    this.tail[this.tailN++] = piece;
  }

  writeHeadSafely(cookieLine: string | null, call: UpstreamCall): void {
    try {
      this.writeHead(cookieLine);
      // Replays what the call held behind the head, then reports the end of that read
      // (onReadEnd), which sends the head if no body bytes took it along.
      call.resume();
    } catch (err) {
      this.internal(err);
    }
  }

  /**
   * Decide the framing and connection fields of the response head, after the pieces
   * onResponseStart added (and the first visit's `set-cookie` line, when there is one).
   */
  writeHead(cookieLine: string | null): void {
    if (this.phase !== ACTIVE) return;
    const ctx = this.ctx;
    const status = this.status;
    const scan = this.scan;
    if (cookieLine !== null) this.addTail(cookieLine);
    if (this.hsts !== undefined) {
      this.addTail(HSTS_LINE);
      this.addTail(this.hsts);
      this.addTail(CRLF);
    }
    if (!scan.hasDate) this.addTail(dateLine());
    // RFC 9112 §6.3: HEAD, 204 and 304 have no body; anything else without a length is chunked.
    this.chunked = !scan.hasLength && this.method !== 'HEAD' && status !== 204 && status !== 304;
    if (this.chunked) this.addTail(CHUNKED_LINE);
    if (ctx.closing || this.clientClose || this.closeAfter) {
      this.closeAfter = true;
      this.addTail(CLOSE_LINE);
    } else {
      this.addTail(this.fp.keepAlive);
    }
    this.addTail(CRLF);
    this.responded = true;
    // Held until the first body bytes of the same upstream read (usually all of them), so
    // both leave in one write; sent alone at the end of that read (onReadEnd) otherwise.
    this.headHeld = true;
  }

  /**
   * What goes to the client next, in one buffer and one write: the held response head (status
   * line, the upstream's kept field lines copied as they came, our fields), then `body` framed
   * (chunked: its size line, the bytes, CRLF), or the last chunk when `last`.
   */
  send(body: Buffer | null, last: boolean): void {
    const head = this.headHeld;
    this.headHeld = false;
    const chunked = this.chunked;
    if (chunked) {
      if (body !== null) {
        this.addTail(body.length.toString(16));
        this.addTail(CRLF);
      } else if (last) {
        this.addTail(LAST_CHUNK);
      }
    }
    const line = head ? statusLine(this.status) : '';
    const scan = this.scan;
    const tail = this.tail;
    const n = this.tailN;
    this.tailN = 0;
    let bytes = line.length + (head ? scan.bytes : 0) + (body === null ? 0 : body.length + (chunked ? 2 : 0));
    for (let i = 0; i < n; i++) bytes += tail[i]!.length;
    const out = Buffer.allocUnsafe(bytes);
    let o = putLatin1(out, 0, line);
    if (head) o = scan.copyRuns(out, o);
    for (let i = 0; i < n; i++) o = putLatin1(out, o, tail[i]!);
    if (body !== null) {
      o += body.copy(out, o);
      if (chunked) {
        out[o++] = 0x0d;
        out[o++] = 0x0a;
      }
    }
    this.socket.write(out);
  }

  onReadEnd(call: UpstreamCall): void {
    if (call === this.call && this.headHeld && this.phase === ACTIVE) this.send(null, false);
  }

  onResponseData(call: UpstreamCall, chunk: Buffer): void {
    // (An empty piece would read as the last chunk of a chunked answer.)
    if (call !== this.call || this.phase !== ACTIVE || chunk.length === 0) return;
    const s = this.socket;
    if (this.trace !== null) this.trace.bytesOut += chunk.length;
    if (this.headHeld || this.chunked) this.send(chunk, false);
    else s.write(chunk);
    // The client reads slower than the upstream sends: keep taking bytes up to our own bound
    // (a short answer then frees its upstream connection at once), then pause the upstream.
    if (this.paused || s.writableLength < this.ctx.config.limits.responseBufferBytes) return;
    this.paused = true;
    this.tick = this.ctx.transfers.tick;
    call.pause();
  }

  onResponseEnd(call: UpstreamCall): void {
    if (call !== this.call || this.phase !== ACTIVE) return;
    if (this.headHeld || this.chunked) this.send(null, true);
    this.endpoint!.succeeded();
    this.report(this.routed!.decision.reason, this.status);
    this.endExchange();
    this.next(false);
  }

  onResponseError(call: UpstreamCall, code: string, err: Error): void {
    // Ended by the client side: handled there, and never the upstream's fault.
    if (call !== this.call || this.phase !== ACTIVE) return;
    const ctx = this.ctx;
    const ep = this.endpoint!;
    // The fast path carries no request body.
    const retry = retryAllowed(ctx, this.method, this.retried, true, this.responded);
    const next = upstreamFailed(ctx, this.routed!, ep, code, retry);
    if (next !== null) {
      // Once, and only within the same zone and colour: never silently in another zone.
      this.retried = true;
      this.endpoint = next;
      this.dispatch();
      return;
    }
    if (this.responded) {
      // Headers are out: all we can do is cut the response so the client sees it incomplete.
      this.cut();
      this.report(code, this.status);
      this.endExchange();
      this.phase = GONE;
      return;
    }
    const e = upstreamError(ep, this.routed!.decision.zone, code, err);
    const close = this.clientClose || ctx.closing || this.closeAfter;
    this.writeError(e, this.trace, close);
    this.report(e.code, e.httpStatus);
    this.endExchange();
    this.next(close);
  }

  // --- the exchange's end --------------------------------------------------------------------

  /** The client closed or reset before its answer was done. */
  clientGone(): void {
    this.abortUpstream();
    this.report(CLIENT_CLOSED, STATUS_CLIENT_CLOSED);
    this.endExchange();
  }

  waitingOnClient(): boolean {
    return this.paused;
  }

  /** The transfer watch: the client read nothing for `timeouts.transferIdleTimeoutMs`. */
  idle(): void {
    if (this.phase !== ACTIVE) return;
    this.abortUpstream();
    this.socket.destroy();
    this.report(CLIENT_STALLED, STATUS_CLIENT_CLOSED);
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
      this.method,
      this.target,
      this.endpoint?.address ?? '',
      this.trace,
      this.upstreamMs,
    );
  }

  /** Free what the exchange held; the connection is IDLE again unless something else says. */
  endExchange(): void {
    this.gen++;
    this.ctx.transfers.delete(this);
    if (this.counted === true) this.fp.edge.endRequest(this.socket);
    this.counted = null;
    this.phase = IDLE;
    this.idleSince = performance.now();
    this.scanned = null;
    this.trace = null;
    this.routed = null;
    this.endpoint = null;
    this.head = null;
    this.call = null;
    this.dispatchedAt = -1;
    this.upstreamMs = -1;
    this.responded = false;
    this.paused = false;
    this.retried = false;
    this.chunked = false;
    this.headHeld = false;
    this.tailN = 0;
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
    if (this.first) {
      // From the second request on: the keep-alive idle limit instead of the head timeout.
      this.first = false;
      s.setTimeout(this.ctx.config.timeouts.idleTimeoutMs);
    }
    const p = this.takePending();
    if (p !== null) {
      this.begin(p);
    } else if (s.isPaused()) {
      // Bytes came early and were all handled: read on.
      s.resume();
    }
  }

  /**
   * End a response whose head is out but whose body cannot be completed: what was relayed
   * leaves first (the head may still be held for the first body bytes), then the connection
   * closes before the framing's end, which is how HTTP/1.1 tells the client it is incomplete.
   */
  cut(): void {
    if (this.headHeld && this.socket.writable) this.send(null, false);
    this.socket.destroy();
  }

  /** An error answer on the raw socket, shaped as respond.ts shapes every error answer. */
  writeError(err: ZonegateError, trace: RequestTrace | null, close: boolean): void {
    const s = this.socket;
    if (!s.writable) {
      if (trace !== null) trace.detail = err.message;
      s.destroy();
      return;
    }
    let fields = 'cache-control: no-store\r\n';
    if (this.hsts !== undefined) fields += `strict-transport-security: ${this.hsts}\r\n`;
    fields += dateLine();
    fields += close ? 'connection: close\r\n' : this.fp.keepAlive;
    s.write(rawErrorMessage(err, trace, fields));
    if (close) {
      this.phase = GONE;
      s.end();
      s.destroySoon();
    }
  }
}
