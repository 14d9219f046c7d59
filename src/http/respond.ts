/**
 * Error answers as a client sees them: status, `x-ldc-reason: <code>`, `x-request-id`, and a
 * small JSON body `{"error": code, "reason": text, "requestId": id}` — the same shape as the
 * admin API's. The reason is generic for failures on our side: upstream addresses, zone names
 * and causes are internal, so they go to the access log (`detail`) under the same request id,
 * never to the client. Works for HTTP/1.1 and HTTP/2 responses, and for a raw socket when
 * Node's parser refused the request before there was a response object.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ZonegateError } from '../core/errors.js';
import { REQUEST_ID_HEADER } from '../core/request-id.js';
import type { RequestTrace } from './request-trace.js';

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

/**
 * What a client is told for errors whose message names internal things (upstream addresses,
 * zones, colours, causes). Errors about the client's own request keep their message.
 */
const CLIENT_REASONS: Readonly<Record<string, string>> = {
  ZG_ERR_UPSTREAM_FAILED: 'the upstream of this zone failed',
  ZG_ERR_UPSTREAM_TIMEOUT: 'the upstream of this zone did not answer in time',
  ZG_ERR_NO_UPSTREAM: 'no upstream is configured for this zone',
  ZG_ERR_NO_LIVE_ZONE: 'no live zone can serve this request',
  ZG_ERR_INTERNAL: 'internal gateway error',
  ZG_ERR_BAD_REQUEST: 'malformed request',
};

export function clientReason(err: ZonegateError): string {
  return CLIENT_REASONS[err.code] ?? err.message;
}

export function errorBody(err: ZonegateError, requestId?: string): string {
  return JSON.stringify(
    requestId === undefined
      ? { error: err.code, reason: clientReason(err) }
      : { error: err.code, reason: clientReason(err), requestId },
  );
}

/**
 * Answer with the error, or — when the response already started — cut it (the client sees a
 * truncated body). With the request's trace: the id goes in the answer, and the full message
 * and the bytes sent are kept for the access log.
 */
export function sendError(res: AnyResponse, err: ZonegateError, trace: RequestTrace | null = null): void {
  if (trace !== null) trace.detail = err.message;
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const text = errorBody(err, trace?.id);
  if (trace !== null) trace.bytesOut = Buffer.byteLength(text);
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
  if (trace !== null) headers.push(REQUEST_ID_HEADER, trace.id);
  // Node's types list only object headers for writeHead; both response kinds accept the flat array form.
  (res as ServerResponse).writeHead(err.httpStatus, headers as unknown as Record<string, string>);
  res.end(text);
}

/**
 * An error answer as raw HTTP/1.1 bytes (a UTF-8 string): status line, the fields every error
 * answer has, then `fields` (whole lines, each ending CRLF), then the body. The trace gets the
 * full message and the bytes sent, as with sendError.
 */
export function rawErrorMessage(err: ZonegateError, trace: RequestTrace | null, fields: string): string {
  if (trace !== null) trace.detail = err.message;
  const text = errorBody(err, trace?.id);
  const len = Buffer.byteLength(text);
  if (trace !== null) trace.bytesOut = len;
  const id = trace === null ? '' : `${REQUEST_ID_HEADER}: ${trace.id}\r\n`;
  return (
    `HTTP/1.1 ${err.httpStatus} ${REASON_PHRASES[err.httpStatus] ?? STATUS_CODES[err.httpStatus] ?? 'Error'}\r\n` +
    `content-type: application/json\r\ncontent-length: ${len}\r\nx-ldc-reason: ${err.code}\r\n${id}${fields}\r\n${text}`
  );
}

/** For errors before a response object exists (header overflow, bad request line, WebSocket upgrades). */
export function writeRawError(socket: Duplex, err: ZonegateError, trace: RequestTrace | null = null): void {
  if (!socket.writable) {
    if (trace !== null) trace.detail = err.message;
    socket.destroy();
    return;
  }
  socket.end(rawErrorMessage(err, trace, 'connection: close\r\n'));
}
