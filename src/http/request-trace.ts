/**
 * What the access log needs about one HTTP request beyond the routing result: its id, its
 * trace span, who sent it (after PROXY protocol), byte counts and the error detail that the
 * client is not shown. One small object per request, hung on the request by a symbol so the
 * forwarding code passes nothing extra around.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { RequestTraceView } from '../core/events.js';
import { connectionInfo } from '../listeners/index.js';
import { REQUEST_ID_HEADER, requestIdFrom } from '../core/request-id.js';
import { TRACEPARENT_HEADER, formatTraceparent, traceFrom, type TraceContext } from './trace-context.js';

type AnyRequest = IncomingMessage | Http2ServerRequest;

export class RequestTrace implements RequestTraceView {
  readonly id: string;
  readonly trace: TraceContext;
  /** When the request reached the HTTP stage (ms since epoch). */
  readonly received: number;
  /** performance.now() at the same moment: durations with sub-millisecond precision. */
  readonly t0: number;
  /** The client as the first hop saw it: the PROXY protocol source when there was one. */
  readonly clientAddress: string;
  readonly host: string;
  /** Request body bytes: the declared Content-Length, or counted for a chunked body. */
  bytesIn: number;
  /** Response body bytes sent to the client. */
  bytesOut = 0;
  /** The full error message (upstream address, cause) for the log; '' when none. */
  detail = '';

  constructor(
    req: AnyRequest,
    requestId: string | undefined,
    traceparent: string | undefined,
    host: string | undefined,
    contentLength: number,
  ) {
    this.id = requestIdFrom(requestId);
    this.trace = traceFrom(traceparent);
    this.received = Date.now();
    this.t0 = performance.now();
    this.clientAddress = connectionInfo(req.socket)?.remoteAddress ?? req.socket.remoteAddress ?? '';
    this.host = host ?? '';
    this.bytesIn = contentLength > 0 ? contentLength : 0;
  }

  /** Headers for the upstream request: our id and our span. */
  pushUpstreamHeaders(headers: string[]): void {
    headers.push(REQUEST_ID_HEADER, this.id, TRACEPARENT_HEADER, formatTraceparent(this.trace));
  }
}

const kTrace = Symbol('zonegate.requestTrace');
interface WithTrace {
  [kTrace]?: RequestTrace;
}

/** Creates the request's trace from what the header scan found, and remembers it on `req`. */
export function beginRequest(
  req: AnyRequest,
  scanned: {
    requestId?: string | undefined;
    traceparent?: string | undefined;
    host: string | undefined;
    contentLength: number;
  },
): RequestTrace {
  const t = new RequestTrace(
    req,
    scanned.requestId,
    scanned.traceparent,
    scanned.host,
    scanned.contentLength,
  );
  (req as AnyRequest & WithTrace)[kTrace] = t;
  return t;
}

export function traceOf(req: AnyRequest): RequestTrace | null {
  return (req as AnyRequest & WithTrace)[kTrace] ?? null;
}

/** 'data' listener for a chunked body already flowing upstream (module level: no closure per request). */
export function countBodyBytes(this: AnyRequest, chunk: Buffer): void {
  const t = traceOf(this);
  if (t !== null) t.bytesIn += chunk.length;
}
