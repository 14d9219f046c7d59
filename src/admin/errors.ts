import { ZonegateError } from '../core/errors.js';

/** An admin write came without a valid bearer token or client certificate. Nothing changed. */
export class AdminUnauthorizedError extends ZonegateError {
  constructor(message = 'a bearer token or a client certificate is required for this endpoint') {
    super('ZG_ERR_ADMIN_UNAUTHORIZED', message, { httpStatus: 401 });
  }
}

/** No admin endpoint at this path. */
export class AdminNotFoundError extends ZonegateError {
  constructor(path: string) {
    super('ZG_ERR_ADMIN_NOT_FOUND', `no admin endpoint ${path}`, { httpStatus: 404 });
  }
}

/** The admin endpoint exists but not for this method (e.g. GET /drain). */
export class AdminMethodError extends ZonegateError {
  readonly allow: string;
  constructor(method: string, path: string, allow: string) {
    super('ZG_ERR_ADMIN_METHOD', `${method} is not allowed on ${path} (allowed: ${allow})`, {
      httpStatus: 405,
    });
    this.allow = allow;
  }
}

/** The admin token file could not be read or is empty; writes stay refused until it is fixed. */
export class AdminTokenFileError extends ZonegateError {
  constructor(path: string, cause?: unknown) {
    super('ZG_ERR_ADMIN_TOKEN_FILE', `admin token file ${path} is unreadable or empty`, {
      httpStatus: 401,
      cause,
    });
  }
}

/** A reload (SIGHUP or POST /reload) failed; the previous config and certificates stay in use. */
export class ReloadFailedError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_RELOAD_FAILED', `reload failed, keeping the previous settings: ${message}`, {
      httpStatus: 500,
      cause,
    });
  }
}

/** No zone map is loaded yet (GET /zonemap, /readyz before the first map). */
export class NoZoneMapError extends ZonegateError {
  constructor() {
    super('ZG_ERR_NO_ZONEMAP', 'no zone map is loaded yet', { httpStatus: 503 });
  }
}

/** The primary could not collect metrics from every worker in time. */
export class MetricsCollectError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_METRICS_COLLECT', message, { httpStatus: 500, cause });
  }
}

/** Something unexpected failed inside the admin API; logged with its cause. */
export class AdminInternalError extends ZonegateError {
  constructor(cause: unknown) {
    super('ZG_ERR_ADMIN_INTERNAL', 'internal error in the admin API', { httpStatus: 500, cause });
  }
}
