/**
 * One bodyless HTTP/1.1 request to an upstream over a pooled raw connection
 * (src/upstream/socket-pool.ts), for every request without a body — the fast path's, and
 * Node's path's (HTTP/1.0, h2) — while requests with a body go through undici: the request
 * head goes out in one write, the response head is read by the same strict parser as client
 * heads (fast/parser.ts), and the body is relayed by its framing — Content-Length counted,
 * chunked decoded (extensions and trailers dropped; whoever answers the client frames it
 * again), or up to the upstream's FIN.
 *
 * A connection goes back to the pool only when the response ended exactly where its framing
 * said and the upstream did not ask to close: a response with bytes after its end, a body on
 * a 204, a close-delimited body or anything refused closes the connection, so a confused
 * upstream cannot make the next request on that connection read its leftovers.
 *
 * Error codes are the ones undici reported on this path before (UND_ERR_HEADERS_TIMEOUT,
 * UND_ERR_BODY_TIMEOUT, UND_ERR_SOCKET, UND_ERR_CONNECT_TIMEOUT, socket errors), so metrics and
 * alerts keep their labels; a response the parser refuses is BAD_RESPONSE, with the reason in
 * the message.
 */
import { putLatin1 } from '../core/bytes.js';
import { REQUEST_ID_HEADER } from '../core/request-id.js';
import type { ConnUser, Endpoint, PooledConn, SocketPool } from '../upstream/index.js';
import { ChunkedDecoder, parseResponseHead, type ChunkSink } from './fast/parser.js';
import { putTraceparent, TRACEPARENT_CHARS, TRACEPARENT_HEADER, type TraceContext } from './trace-context.js';

export interface CallHandler {
  /**
   * The final (non-1xx) response head: its fields as offsets into `buf` (name start, name end,
   * value start, value end per field; parseResponseHead's `fields`). `buf` is the handler's to
   * keep; `fields` is read now or never (the next head reuses the array).
   */
  onResponseStart(call: UpstreamCall, status: number, buf: Buffer, fields: readonly number[]): void;
  onResponseData(call: UpstreamCall, chunk: Buffer): void;
  onResponseEnd(call: UpstreamCall): void;
  /** The exchange failed before its response ended; no callback follows. */
  onResponseError(call: UpstreamCall, code: string, err: Error): void;
  /**
   * Everything one read of the upstream carried has been reported (the response goes on): a
   * handler that held the head back to send it with the first body bytes sends it now.
   */
  onReadEnd(call: UpstreamCall): void;
}

/** Field lines kept from a client's head, copied as bytes (RequestFieldScan). */
export interface KeptLines {
  /** Bytes copyRuns() writes. */
  readonly bytes: number;
  copyRuns(out: Buffer, o: number): number;
}

/** For a head with none of the client's lines (Node's path: its `headers` carry them all). */
export const NO_KEPT_LINES: KeptLines = { bytes: 0, copyRuns: (_out, o) => o };

const HTTP11_CRLF = ' HTTP/1.1\r\n';

/** `x-request-id: `, the start of that field's line. */
export const REQUEST_ID_LINE = `${REQUEST_ID_HEADER}: `;
const TRACEPARENT_LINE = `${TRACEPARENT_HEADER}: `;

/**
 * The request head as sent, in one buffer: the request line, the client's kept field lines as it
 * sent them, `headers` (flat `[name, value, …]`, checked and rewritten), then, with a trace, its
 * `x-request-id` and `traceparent` (what RequestTrace.pushUpstreamHeaders adds); strings are
 * written latin1. No string is built for the head.
 */
export function requestHeadBytes(
  method: string,
  path: string,
  kept: KeptLines,
  headers: readonly string[],
  trace: { readonly id: string; readonly trace: TraceContext } | null,
): Buffer {
  let n = method.length + 1 + path.length + HTTP11_CRLF.length + kept.bytes + 2;
  for (let i = 0; i < headers.length; i++) n += headers[i]!.length + 2;
  if (trace !== null)
    n += REQUEST_ID_LINE.length + trace.id.length + TRACEPARENT_LINE.length + TRACEPARENT_CHARS + 4;
  const out = Buffer.allocUnsafe(n);
  let o = putLatin1(out, 0, method);
  out[o++] = 0x20;
  o = putLatin1(out, o, path);
  o = putLatin1(out, o, HTTP11_CRLF);
  o = kept.copyRuns(out, o);
  for (let i = 0; i < headers.length; i += 2) {
    o = putLatin1(out, o, headers[i]!);
    out[o++] = 0x3a;
    out[o++] = 0x20;
    o = putLatin1(out, o, headers[i + 1]!);
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  if (trace !== null) {
    o = putLatin1(out, putLatin1(out, o, REQUEST_ID_LINE), trace.id);
    out[o++] = 0x0d;
    out[o++] = 0x0a;
    o = putTraceparent(out, putLatin1(out, o, TRACEPARENT_LINE), trace.trace);
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  out[o++] = 0x0d;
  out[o++] = 0x0a;
  return out;
}

export const BAD_RESPONSE = 'BAD_RESPONSE';
const HEADERS_TIMEOUT = 'UND_ERR_HEADERS_TIMEOUT';
const BODY_TIMEOUT = 'UND_ERR_BODY_TIMEOUT';
const SOCKET_CLOSED = 'UND_ERR_SOCKET';

// States.
const WAITING = 0;
const HEAD = 1;
const BODY_LENGTH = 2;
const BODY_CHUNKED = 3;
const BODY_CLOSE = 4;
/** Ended, failed or aborted: no callback follows. */
const DONE = 5;

const LF = 0x0a;
/** Interim (1xx) answers skipped before the final one; more is a broken upstream. */
const MAX_INTERIM = 16;

/**
 * The offsets of the response head being read, reused for every head: a handler reads them in
 * onResponseStart, before any other head can be parsed (CallHandler).
 */
const HEAD_FIELDS: number[] = [];

/** Trailer bytes of a chunked response accepted (and dropped). */
const MAX_TRAILER_BYTES = 16 * 1024;

/** RFC 9110 §9.2.2: the method may be sent again without a second effect. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

export class UpstreamCall implements ConnUser, ChunkSink {
  readonly handler: CallHandler;
  readonly #pool: SocketPool;
  readonly #method: string;
  /** The whole request head, as sent. */
  readonly #head: Buffer;
  /** The response head must be whole within this many bytes. */
  readonly #maxHeadBytes: number;
  /**
   * A reused connection closed before any byte of the answer (the upstream's keep-alive
   * timeout raced our request): the request may be sent once more on another connection.
   * Only for idempotent requests — the upstream may have acted on it.
   */
  readonly #resendable: boolean;
  #conn: PooledConn | null = null;
  #state = WAITING;
  /** The pieces of a response head not yet complete. */
  #parts: Buffer[] | null = null;
  #partsBytes = 0;
  /** Interim (1xx) answers skipped. */
  #interim = 0;
  #remaining = 0;
  #decoder: ChunkedDecoder | null = null;
  #sentAt = 0;
  #received = false;
  #keepAlive = false;
  #paused = false;
  #timedOutPaused = false;
  #resent = false;
  /** The connection had carried an exchange before this one. */
  #reused = false;
  /** What was read past the head while the handler paused in onResponseStart. */
  #held: Buffer | null = null;
  #heldAt = 0;

  /** `head`: the whole request head (requestHeadBytes). */
  constructor(endpoint: Endpoint, handler: CallHandler, method: string, head: Buffer) {
    this.handler = handler;
    this.#pool = endpoint.conns;
    this.#method = method;
    this.#head = head;
    this.#maxHeadBytes = endpoint.maxResponseHeadBytes;
    this.#resendable = IDEMPOTENT.has(method);
  }

  /** Nothing more will be reported. */
  get done(): boolean {
    return this.#state === DONE;
  }

  start(): void {
    this.#pool.acquire(this);
  }

  /** Stop reading the upstream (the client reads slower than it sends). */
  pause(): void {
    this.#paused = true;
    this.#conn?.socket.pause();
  }

  resume(): void {
    this.#paused = false;
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      this.#afterHead(held, this.#heldAt);
      if (this.#state === DONE) return;
      this.handler.onReadEnd(this);
      if (this.#paused) return;
    }
    const c = this.#conn;
    if (c === null) return;
    c.socket.resume();
    if (this.#timedOutPaused) {
      // Its silence timer fired while we were not reading: start it again.
      this.#timedOutPaused = false;
      c.socket.setTimeout(this.#pool.options.timeoutMs);
    }
  }

  /** Give up the exchange (the client left): its connection is closed, nothing more is reported. */
  abort(): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    const c = this.#conn;
    this.#conn = null;
    if (c !== null) this.#pool.release(c, false);
    else this.#pool.cancel(this);
  }

  // --- ConnUser -----------------------------------------------------------------------------

  onConn(conn: PooledConn): void {
    if (this.#state === DONE) {
      this.#pool.release(conn, true);
      return;
    }
    this.#conn = conn;
    this.#reused = conn.served > 0;
    this.#state = HEAD;
    this.#received = false;
    this.#sentAt = performance.now();
    conn.socket.write(this.#head);
  }

  onConnFailed(code: string, err: Error): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    this.handler.onResponseError(this, code, err);
  }

  onConnData(chunk: Buffer): void {
    this.#received = true;
    const state = this.#state;
    if (state === HEAD) this.#readHead(chunk);
    else if (state !== DONE) this.#readBody(chunk, 0, chunk.length);
    if (this.#state !== DONE) this.handler.onReadEnd(this);
  }

  onConnEnd(): void {
    if (this.#state === BODY_CLOSE) {
      this.#keepAlive = false;
      this.#finish();
      return;
    }
    this.#closed(null);
  }

  onConnClose(err: Error | null): void {
    // The pool already forgot this connection.
    this.#conn = null;
    this.#closed(err);
  }

  onConnTimeout(): void {
    if (this.#state === DONE) return;
    if (this.#paused) {
      // Waiting on the client, not on the upstream: the transfer watch judges that.
      this.#timedOutPaused = true;
      return;
    }
    const ms = this.#pool.options.timeoutMs;
    if (this.#state === HEAD || this.#state === WAITING) {
      this.#fail(HEADERS_TIMEOUT, new Error(`no response head within ${ms} ms`));
    } else {
      this.#fail(BODY_TIMEOUT, new Error(`the upstream sent nothing for ${ms} ms mid-body`));
    }
  }

  // --- ChunkSink ----------------------------------------------------------------------------

  chunkData(buf: Buffer, start: number, end: number): void {
    if (this.#state !== DONE) this.handler.onResponseData(this, buf.subarray(start, end));
  }

  // --- reading ------------------------------------------------------------------------------

  #readHead(chunk: Buffer): void {
    let buf: Buffer;
    const parts = this.#parts;
    if (parts === null) {
      buf = chunk;
    } else {
      parts.push(chunk);
      this.#partsBytes += chunk.length;
      // A head can only end with a line: a piece without LF (and within the limit) cannot
      // complete it, so it waits without another copy and parse (a head trickled byte by byte
      // is parsed once per line, not once per byte).
      if (chunk.indexOf(LF) === -1 && this.#partsBytes <= this.#maxHeadBytes) {
        this.#checkHeadDeadline();
        return;
      }
      buf = Buffer.concat(parts, this.#partsBytes);
      this.#parts = null;
    }
    let head;
    for (;;) {
      head = parseResponseHead(buf, 0, this.#maxHeadBytes, HEAD_FIELDS);
      if (head === null) {
        if (this.#checkHeadDeadline()) return;
        this.#parts = [buf];
        this.#partsBytes = buf.length;
        return;
      }
      if (head.rejected !== undefined) {
        this.#fail(
          BAD_RESPONSE,
          new Error(`the upstream's response was refused: ${head.rejected} at byte ${head.at}`),
        );
        return;
      }
      if (head.status >= 200) break;
      if (head.status === 101) {
        this.#fail(BAD_RESPONSE, new Error('the upstream switched protocols on a request without Upgrade'));
        return;
      }
      // 1xx informational (100, 103): not relayed; the final answer follows on the same bytes.
      // An upstream that sends nothing but interim answers is cut like a silent one.
      if (++this.#interim > MAX_INTERIM) {
        this.#fail(BAD_RESPONSE, new Error(`more than ${MAX_INTERIM} interim (1xx) answers`));
        return;
      }
      if (this.#checkHeadDeadline()) return;
      buf = buf.subarray(head.length);
      if (buf.length === 0) return;
    }
    const status = head.status;
    this.#keepAlive = head.keepAlive;
    // RFC 9112 §6.3: no body after HEAD, 204 or 304, whatever the fields say.
    if (this.#method === 'HEAD' || status === 204 || status === 304) {
      this.#state = BODY_LENGTH;
      this.#remaining = 0;
    } else if (head.framing === 'length') {
      this.#state = BODY_LENGTH;
      this.#remaining = head.contentLength;
    } else if (head.framing === 'chunked') {
      this.#state = BODY_CHUNKED;
      this.#decoder = new ChunkedDecoder(MAX_TRAILER_BYTES);
    } else {
      this.#state = BODY_CLOSE;
      this.#keepAlive = false;
    }
    this.handler.onResponseStart(this, status, buf, head.fields);
    if (this.#state === DONE) return;
    if (this.#paused) {
      // The handler is not ready for the body yet (it signs a cookie first): hold what we have.
      this.#held = buf;
      this.#heldAt = head.length;
      return;
    }
    this.#afterHead(buf, head.length);
  }

  /** The final head is late (it may trickle in, or hide behind interim answers): fail. True when it did. */
  #checkHeadDeadline(): boolean {
    const ms = this.#pool.options.timeoutMs;
    if (performance.now() - this.#sentAt < ms) return false;
    this.#fail(HEADERS_TIMEOUT, new Error(`no response head within ${ms} ms`));
    return true;
  }

  /** Go on with the bytes after the head (`buf[at…]`). */
  #afterHead(buf: Buffer, at: number): void {
    if (this.#state === BODY_LENGTH && this.#remaining === 0) {
      // Bytes after a complete response: never read them as the next answer.
      if (buf.length > at) this.#keepAlive = false;
      this.#finish();
      return;
    }
    if (buf.length > at) this.#readBody(buf, at, buf.length);
  }

  #readBody(buf: Buffer, start: number, end: number): void {
    switch (this.#state) {
      case BODY_LENGTH: {
        const n = Math.min(this.#remaining, end - start);
        this.#remaining -= n;
        this.handler.onResponseData(
          this,
          start === 0 && n === buf.length ? buf : buf.subarray(start, start + n),
        );
        if (this.done || this.#remaining > 0) return;
        if (start + n < end) this.#keepAlive = false;
        this.#finish();
        return;
      }
      case BODY_CHUNKED: {
        const d = this.#decoder!;
        const r = d.feed(buf, start, end, this);
        if (this.done) return;
        if (typeof r === 'string') {
          this.#fail(BAD_RESPONSE, new Error(`the upstream's chunked body was refused: ${r}`));
          return;
        }
        if (!d.done) return;
        if (r < end) this.#keepAlive = false;
        this.#finish();
        return;
      }
      default:
        this.handler.onResponseData(this, start === 0 ? buf : buf.subarray(start, end));
    }
  }

  /** The connection ended or closed before the response did. */
  #closed(err: Error | null): void {
    if (this.#state === DONE) return;
    if (this.#state === HEAD && !this.#received && this.#reused && this.#resendable && !this.#resent) {
      // A keep-alive connection the upstream closed as we wrote to it: send once more.
      this.#resent = true;
      const c = this.#conn;
      this.#conn = null;
      if (c !== null) this.#pool.release(c, false);
      this.#state = WAITING;
      this.#pool.acquire(this);
      return;
    }
    const code = (err as { code?: string } | null)?.code ?? SOCKET_CLOSED;
    this.#fail(code, err ?? new Error('the upstream closed the connection before its response ended'));
  }

  #finish(): void {
    this.#state = DONE;
    const c = this.#conn;
    this.#conn = null;
    this.#decoder = null;
    this.#held = null;
    this.#parts = null;
    if (c !== null) this.#pool.release(c, this.#keepAlive);
    this.handler.onResponseEnd(this);
  }

  #fail(code: string, err: Error): void {
    this.#state = DONE;
    const c = this.#conn;
    this.#conn = null;
    if (c !== null) this.#pool.release(c, false);
    this.handler.onResponseError(this, code, err);
  }
}
