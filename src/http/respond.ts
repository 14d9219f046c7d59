/**
 * Error answers as a client sees them: status, `x-ldc-reason: <code>`, and a small JSON body
 * `{"error": code, "reason": message}`. Works for HTTP/1.1 and HTTP/2 responses, and for a
 * raw socket when Node's parser refused the request before there was a response object.
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ZonegateError } from '../core/errors.js';

export type AnyResponse = ServerResponse | Http2ServerResponse;

const REASON_PHRASES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function body(err: ZonegateError): string {
  return JSON.stringify({ error: err.code, reason: err.message });
}

/** Answer with the error, or — when the response already started — cut it (the client sees a truncated body). */
export function sendError(res: AnyResponse, err: ZonegateError, extraHeaders?: readonly string[]): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const text = body(err);
  const headers = [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(text)),
    'x-ldc-reason',
    err.code,
    'cache-control',
    'no-store',
  ];
  if (extraHeaders !== undefined) headers.push(...extraHeaders);
  // Node's types list only object headers for writeHead; both response kinds accept the flat array form.
  (res as ServerResponse).writeHead(err.httpStatus, headers as unknown as Record<string, string>);
  res.end(text);
}

/** For errors before a response object exists (header overflow, bad request line, WebSocket upgrades). */
export function writeRawError(socket: Duplex, err: ZonegateError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const text = body(err);
  socket.end(
    `HTTP/1.1 ${err.httpStatus} ${REASON_PHRASES[err.httpStatus] ?? 'Error'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
      `x-ldc-reason: ${err.code}\r\nconnection: close\r\n\r\n${text}`,
  );
}
