/**
 * The simplest correct Node h2 → HTTP/1.1 forwarder, the h2 table's counterpart of
 * bench/_undici-forwarder.ts: a bare `http2.createSecureServer` on the core stream API (no
 * compatibility layer), each stream sent to the upstream with one undici Pool (`Pool.request`),
 * the answer's status and end-to-end headers given to `stream.respond()` and its body piped
 * into the stream (`pipeline`, so a client's reset frees the upstream connection too). Hop-by-hop headers dropped both ways (RFC 9110 §7.6.1; RFC 9113 §8.2.2 forbids
 * them in h2), request bodies streamed. No routing, no logging, no metrics: what Node's HTTP/2
 * plus an upstream leg cost, below any h2 gateway written in Node.
 *
 *   npx tsx bench/_h2-forwarder.ts PORT UPSTREAM_HOST:PORT CERT_FILE KEY_FILE
 */
import { readFileSync } from 'node:fs';
import { constants, createSecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { PassThrough, pipeline } from 'node:stream';
import { Pool } from 'undici';

const [port, upstream, certFile, keyFile] = process.argv.slice(2);
const HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const pool = new Pool(`http://${upstream}`, { connections: 128 });

/** The request's fields for HTTP/1.1: pseudo-headers out (`:authority` becomes Host), hop-by-hop out. */
function requestHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { host: h[':authority'] ?? '' };
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(':') || v === undefined || HOP.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

const server = createSecureServer({ cert: readFileSync(certFile ?? ''), key: readFileSync(keyFile ?? '') });
server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
  stream.on('error', () => undefined);
  const method = headers[':method'] ?? 'GET';
  const bodyless = method === 'GET' || method === 'HEAD' || stream.readableEnded;
  pool
    .request({
      path: headers[':path'] ?? '/',
      method,
      headers: requestHeaders(headers),
      // Not the stream itself: undici destroys a body it has sent, which would close the h2
      // stream before the answer.
      body: bodyless ? null : stream.pipe(new PassThrough()),
    })
    .then(
      ({ statusCode, headers: answer, body }) => {
        if (stream.destroyed) {
          body.dump().catch(() => undefined);
          return;
        }
        const h: Record<string, string | string[] | number> = { [constants.HTTP2_HEADER_STATUS]: statusCode };
        for (const [k, v] of Object.entries(answer)) if (!HOP.includes(k) && v !== undefined) h[k] = v;
        stream.respond(h);
        // pipeline: a client reset destroys the upstream body too, so its connection is freed.
        pipeline(body, stream, () => undefined);
      },
      () => {
        if (stream.destroyed) return;
        if (!stream.headersSent)
          stream.respond({ [constants.HTTP2_HEADER_STATUS]: 502 }, { endStream: true });
        else stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      },
    );
});
server.on('sessionError', () => undefined);
server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
