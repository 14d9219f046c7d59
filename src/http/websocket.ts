/**
 * WebSocket (RFC 6455 §4) through the gateway: route the Upgrade request like any other,
 * send it to the chosen upstream over a fresh TCP connection, then splice the two sockets.
 * The upstream's 101 answer and every frame after it pass through untouched.
 */
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ZonegateError } from '../core/errors.js';
import type { Identity } from '../router/index.js';
import type { HttpContext } from './context.js';
import { BadRequestError, UpstreamFailedError, UpstreamTimeoutError } from './errors.js';
import { certUidOf, routeTo, upstreamHeaders } from './forward.js';
import { scanRequestHeaders, type ScannedRequest } from './headers.js';
import { writeRawError } from './respond.js';
import { beginRequest } from './request-trace.js';

const noop = (): void => {};

export function handleUpgrade(ctx: HttpContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', noop);
  const cfg = ctx.config;
  const scanned = scanRequestHeaders(req.rawHeaders, cfg.identity.uidHeader, cfg.identity.cookie.name);
  if (scanned.upgrade?.toLowerCase() !== 'websocket') {
    writeRawError(socket, new BadRequestError('only WebSocket upgrades are supported'));
    return;
  }
  const identity = ctx.identifier.identify(scanned.uid, scanned.cookie, certUidOf(req));
  if (identity instanceof Promise) {
    identity.then(
      (id) => splice(ctx, req, socket, head, scanned, id),
      () => socket.destroy(),
    );
  } else {
    splice(ctx, req, socket, head, scanned, identity);
  }
}

function splice(
  ctx: HttpContext,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  scanned: ScannedRequest,
  id: Identity,
): void {
  const started = Date.now();
  const r = routeTo(ctx, req, scanned, id);
  if (r instanceof ZonegateError) {
    writeRawError(client, r);
    ctx.hooks.onResponse?.(
      'websocket',
      '',
      '',
      r.code,
      r.httpStatus,
      0,
      req.method ?? 'GET',
      req.url ?? '/',
      '',
    );
    return;
  }
  const headers = upstreamHeaders(ctx, scanned, r, id.uid);
  const trace = beginRequest(req, scanned); // request id and trace span: src/http/request-trace.ts
  trace.pushUpstreamHeaders(headers);
  let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  text += 'connection: Upgrade\r\nupgrade: websocket\r\n\r\n';

  const ep = r.endpoint;
  const upstream: Socket = connect({ host: ep.host, port: ep.port, noDelay: true });
  let connected = false;
  const timer = setTimeout(() => {
    upstream.destroy();
    fail(new UpstreamTimeoutError(`upstream ${ep.address} did not accept the WebSocket connection in time`));
  }, ctx.config.timeouts.upstreamConnectTimeoutMs);
  const fail = (err: ZonegateError): void => {
    clearTimeout(timer);
    ep.failed(Date.now());
    writeRawError(client, err, trace);
    ctx.hooks.onResponse?.(
      'websocket',
      r.decision.zone,
      r.decision.colour,
      err.code,
      err.httpStatus,
      Date.now() - started,
      req.method ?? 'GET',
      req.url ?? '/',
      ep.address,
      trace,
    );
  };
  upstream.once('error', (err) => {
    if (!connected)
      fail(
        new UpstreamFailedError(
          `upstream ${ep.address} refused the WebSocket connection: ${err.message}`,
          err,
        ),
      );
    else client.destroy();
  });
  upstream.once('connect', () => {
    connected = true;
    clearTimeout(timer);
    ep.succeeded();
    upstream.on('error', noop);
    upstream.write(text);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
    // One side gone means the tunnel is gone: tear both down (half-open tunnels leak).
    let done = false;
    const teardown = (): void => {
      if (done) return;
      done = true;
      upstream.destroy();
      client.destroy();
      ctx.hooks.onResponse?.(
        'websocket',
        r.decision.zone,
        r.decision.colour,
        r.decision.reason,
        101,
        Date.now() - started,
        req.method ?? 'GET',
        req.url ?? '/',
        ep.address,
        trace,
      );
    };
    upstream.once('close', teardown);
    client.once('close', teardown);
  });
}
