/**
 * Errors an HTTP client sees. Each maps to a status and a stable code; the client gets
 * `{"error": code, "reason": message}` and the code again in `x-ldc-reason`.
 */
import { ZonegateError } from '../core/errors.js';

/** The upstream refused, reset or broke the connection, or answered garbage (502). */
export class UpstreamFailedError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_UPSTREAM_FAILED', message, { httpStatus: 502, mqttReasonCode: 0x88, cause });
  }
}

/** The upstream did not connect or answer within its timeout (504). */
export class UpstreamTimeoutError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_UPSTREAM_TIMEOUT', message, { httpStatus: 504, mqttReasonCode: 0x88, cause });
  }
}

/** The chosen zone lists no upstream for the chosen colour (503): a zone map mistake. */
export class NoUpstreamError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_NO_UPSTREAM', message, { httpStatus: 503, mqttReasonCode: 0x88 });
  }
}

/** The request body is larger than `limits.maxBodyBytes` (413). */
export class BodyTooLargeError extends ZonegateError {
  constructor(limit: number) {
    super('ZG_ERR_BODY_TOO_LARGE', `request body exceeds ${limit} bytes`, { httpStatus: 413 });
  }
}

/** The request headers are larger than `limits.maxHeaderBytes` (431). */
export class HeadersTooLargeError extends ZonegateError {
  constructor(limit: number) {
    super('ZG_ERR_HEADERS_TOO_LARGE', `request headers exceed ${limit} bytes`, { httpStatus: 431 });
  }
}

/** The client sent something that is not HTTP, or too slowly (400 / 408). */
export class BadRequestError extends ZonegateError {
  constructor(message: string, status: 400 | 408 = 400) {
    super(status === 408 ? 'ZG_ERR_REQUEST_TIMEOUT' : 'ZG_ERR_BAD_REQUEST', message, { httpStatus: status });
  }
}

/** A bug in the gateway surfaced while handling a request (500); logged with its cause. */
export class InternalError extends ZonegateError {
  constructor(cause: unknown) {
    super('ZG_ERR_INTERNAL', 'internal gateway error', { httpStatus: 500, cause });
  }
}
