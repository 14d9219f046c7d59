/**
 * WebSocket (RFC 6455 §4) through the gateway: check and route the Upgrade request like any
 * other, send it to the chosen upstream over a fresh TCP connection, and splice the two sockets
 * only once the upstream has answered `101 Switching Protocols`. Any other answer is relayed
 * to the client as a complete response with `connection: close`, and both sockets are closed:
 * nothing the client sends after its Upgrade request ever reaches the upstream unless the
 * upstream switched protocols (else a client could tunnel raw requests past every check here).
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ZonegateError } from '../core/errors.js';
import { publishRequestDone } from '../core/events.js';
import type { Identity } from '../router/index.js';
import type { HttpContext } from './context.js';
import { BadRequestError, BodyTooLargeError, UpstreamFailedError, UpstreamTimeoutError } from './errors.js';
import {
  CLIENT_CLOSED,
  certUidOf,
  endpointFailed,
  routeTo,
  upstreamHeaders,
  type Routed,
} from './forward.js';
import { scanRequestHeaders, type ScannedRequest } from './headers.js';
import { checkRequest, type CheckedTarget } from './request-check.js';
import { writeRawError } from './respond.js';
import { REQUEST_ID_HEADER } from '../core/request-id.js';
import { beginRequest, type RequestTrace } from './request-trace.js';

const noop = (): void => {};

/** Response fields not relayed from a refused upgrade (hop-by-hop, and our own framing). */
const NOT_RELAYED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'upgrade',
  'proxy-connection',
  'trailer',
]);

export function handleUpgrade(ctx: HttpContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', noop);
  const cfg = ctx.config;
  const scanned = scanRequestHeaders(req.rawHeaders, cfg.identity.uidHeader, cfg.identity.cookie.name);
  const target: CheckedTarget = { path: '/', host: undefined };
  const method = req.method ?? 'GET';
  const problem =
    scanned.upgrade?.toLowerCase() !== 'websocket'
      ? new BadRequestError('only WebSocket upgrades are supported')
      : method !== 'GET'
        ? new BadRequestError('a WebSocket upgrade is a GET')
        : scanned.contentLength > 0 || scanned.chunked
          ? new BadRequestError('a WebSocket upgrade carries no body')
          : checkRequest(method, req.url ?? '/', req.httpVersion, false, scanned, target);
  // Request id and trace span (src/http/request-trace.ts); refused upgrades get one too.
  const trace = beginRequest(req, {
    requestId: scanned.requestId,
    traceparent: scanned.traceparent,
    host: target.host ?? scanned.host,
    contentLength: scanned.contentLength,
  });
  if (problem !== null) {
    refuse(ctx, req, socket, problem, trace);
    return;
  }
  const identity = ctx.identifier.identify(scanned.uid, scanned.cookie, certUidOf(req));
  if (identity instanceof Promise) {
    identity.then(
      (id) => splice(ctx, req, socket, head, scanned, target, id, trace),
      () => socket.destroy(),
    );
  } else {
    splice(ctx, req, socket, head, scanned, target, identity, trace);
  }
}

function refuse(
  ctx: HttpContext,
  req: IncomingMessage,
  client: Duplex,
  err: ZonegateError,
  trace: RequestTrace,
): void {
  writeRawError(client, err, trace);
  publishRequestDone(
    ctx.events,
    'websocket',
    '',
    '',
    err.code,
    err.httpStatus,
    performance.now() - trace.t0,
    '',
    -1,
    req.method ?? 'GET',
    req.url ?? '/',
    trace,
  );
}

function splice(
  ctx: HttpContext,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  scanned: ScannedRequest,
  target: CheckedTarget,
  id: Identity,
  trace: RequestTrace,
): void {
  if (client.destroyed) return;
  const r = routeTo(ctx, req, target.path, scanned, id);
  if (r instanceof ZonegateError) {
    refuse(ctx, req, client, r, trace);
    return;
  }
  const headers = upstreamHeaders(ctx, scanned, r, id.uid, target.host);
  trace.pushUpstreamHeaders(headers); // x-request-id, traceparent with our span
  new Tunnel(ctx, req, client, head, r, headers, target.path, trace);
}

/** One WebSocket exchange: the upgrade request upstream, then either the spliced tunnel or a relayed refusal. */
class Tunnel {
  readonly ctx: HttpContext;
  readonly req: IncomingMessage;
  readonly client: Duplex;
  readonly head: Buffer;
  readonly r: Routed;
  readonly trace: RequestTrace;
  /** performance.now() when the upgrade went upstream. */
  readonly started = performance.now();
  readonly up: ClientRequest;
  done = false;

  constructor(
    ctx: HttpContext,
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
    r: Routed,
    headers: string[],
    path: string,
    trace: RequestTrace,
  ) {
    this.trace = trace;
    this.ctx = ctx;
    this.req = req;
    this.client = client;
    this.head = head;
    this.r = r;
    const ep = r.endpoint;
    headers.push('connection', 'Upgrade', 'upgrade', 'websocket');
    // A fresh connection (no agent): an upgrade connection is never returned to a pool.
    this.up = httpRequest({
      host: ep.host,
      port: ep.port,
      method: 'GET',
      path,
      headers,
      agent: false,
      setHost: false,
      timeout: ctx.config.timeouts.upstreamConnectTimeoutMs,
      maxHeaderSize: ep.maxResponseHeadBytes,
    });
    const up = this.up;
    up.on('timeout', () => this.upstreamFailed(null));
    up.on('error', (err) => this.upstreamFailed(err));
    up.on('upgrade', (res: IncomingMessage, socket: Socket, upHead: Buffer) =>
      this.switched(res, socket, upHead),
    );
    up.on('response', (res: IncomingMessage) => this.refused(res));
    up.on('socket', (s: Socket) => {
      s.once('connect', () => up.setTimeout(ctx.config.timeouts.upstreamResponseTimeoutMs));
    });
    // Client gone before the upstream answered: stop there.
    client.once('close', () => {
      if (!this.done) {
        this.done = true;
        up.destroy();
        this.report(CLIENT_CLOSED, 499);
      }
    });
    up.end();
  }

  /** The upstream switched protocols: relay its 101 head, then splice the sockets both ways. */
  switched(res: IncomingMessage, upstream: Socket, upHead: Buffer): void {
    upstream.on('error', noop);
    if (this.done || this.client.destroyed) {
      upstream.destroy();
      return;
    }
    this.done = true;
    this.up.setTimeout(0);
    const client = this.client;
    const raw = res.rawHeaders;
    let text = `HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}\r\n`;
    for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
    text += `${REQUEST_ID_HEADER}: ${this.trace.id}\r\n`;
    client.write(`${text}\r\n`);
    if (upHead.length > 0) client.write(upHead);
    if (this.head.length > 0) upstream.write(this.head);
    this.r.endpoint.succeeded();
    upstream.pipe(client);
    client.pipe(upstream);
    // One side gone means the tunnel is gone: tear both down (half-open tunnels leak).
    let closed = false;
    const teardown = (): void => {
      if (closed) return;
      closed = true;
      upstream.destroy();
      client.destroy();
      this.report(this.r.decision.reason, 101);
    };
    upstream.once('close', teardown);
    client.once('close', teardown);
  }

  /** The upstream answered without switching: relay that answer, close both sides, splice nothing. */
  refused(res: IncomingMessage): void {
    if (this.done) {
      res.destroy();
      return;
    }
    this.done = true;
    this.r.endpoint.succeeded();
    const client = this.client;
    const raw = res.rawHeaders;
    let text = `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n`;
    for (let i = 0; i < raw.length; i += 2) {
      if (!NOT_RELAYED.has(raw[i]!.toLowerCase())) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
    }
    text += `${REQUEST_ID_HEADER}: ${this.trace.id}\r\n`;
    const limit = this.ctx.config.limits.responseBufferBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        res.destroy(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(c);
    });
    res.on('error', () => {
      this.up.destroy();
      client.destroy();
    });
    res.on('end', () => {
      this.up.destroy();
      const body = Buffer.concat(chunks);
      this.trace.bytesOut = body.length;
      text += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
      // The client's bytes after its Upgrade request never go anywhere: its connection ends
      // here. They are read and dropped, so that closing with unread bytes does not reset the
      // connection before the client has read the answer.
      client.end(Buffer.concat([Buffer.from(text, 'latin1'), body]));
      client.resume();
      (client as Socket).setTimeout?.(this.ctx.config.timeouts.upstreamConnectTimeoutMs, () =>
        client.destroy(),
      );
      this.report(this.r.decision.reason, res.statusCode ?? 502);
    });
  }

  upstreamFailed(err: Error | null): void {
    if (this.done) {
      this.up.destroy();
      return;
    }
    this.done = true;
    this.up.destroy();
    const ep = this.r.endpoint;
    // Counted, published and (after enough in a row) ejected like a failed HTTP request.
    const code = err === null ? 'UND_ERR_HEADERS_TIMEOUT' : errCode(err);
    endpointFailed(this.ctx, 'ws', this.r.decision, ep, code, Date.now());
    const e =
      err === null
        ? new UpstreamTimeoutError(`upstream ${ep.address} did not answer the WebSocket upgrade in time`)
        : new UpstreamFailedError(`upstream ${ep.address} failed the WebSocket upgrade: ${err.message}`, err);
    writeRawError(this.client, e, this.trace);
    this.report(e.code, e.httpStatus);
  }

  report(reason: string, status: number): void {
    const d = this.r.decision;
    const now = performance.now();
    // A tunnel's upstream time runs from the upgrade request to the end of the tunnel.
    publishRequestDone(
      this.ctx.events,
      'websocket',
      d.zone,
      d.colour,
      reason,
      status,
      now - this.trace.t0,
      this.r.endpoint.address,
      now - this.started,
      this.req.method ?? 'GET',
      this.req.url ?? '/',
      this.trace,
    );
  }
}

function errCode(err: Error): string {
  return (err as { code?: string }).code ?? 'UNKNOWN';
}
