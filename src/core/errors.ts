/**
 * Every error a user or operator can see is a ZonegateError with a stable `ZG_ERR_*` code.
 * Codes are never reused or renamed; each one is listed in docs/errors.md (a test checks).
 *
 * Stage-specific errors live next to their stage (`src/<stage>/errors.ts`) and extend
 * ZonegateError; the ones shared by several stages live here.
 */

/**
 * Every stable error code, in the order of docs/errors.md (a test checks both directions: each
 * one documented, each documented one raised somewhere). Codes are never reused or renamed;
 * a retired one stays out of this list and the docs keep saying what it was.
 */
export type ZgErrorCode =
  | 'ZG_ERR_USAGE'
  | 'ZG_ERR_ZONEMAP_INVALID'
  | 'ZG_ERR_CONFIG_INVALID'
  | 'ZG_ERR_DOCUMENT_READ'
  | 'ZG_ERR_COOKIE_KEY_INVALID'
  | 'ZG_ERR_NO_LIVE_ZONE'
  | 'ZG_ERR_ADMIN_UNAUTHORIZED'
  | 'ZG_ERR_ADMIN_NOT_FOUND'
  | 'ZG_ERR_ADMIN_METHOD'
  | 'ZG_ERR_ADMIN_TOKEN_FILE'
  | 'ZG_ERR_ADMIN_INTERNAL'
  | 'ZG_ERR_RELOAD_FAILED'
  | 'ZG_ERR_NO_ZONEMAP'
  | 'ZG_ERR_METRICS_COLLECT'
  | 'ZG_ERR_PROXY_PROTOCOL'
  | 'ZG_ERR_TLS_CONFIG'
  | 'ZG_ERR_LISTEN'
  | 'ZG_ERR_ZONEMAP_CONFLICT'
  | 'ZG_ERR_ZONEMAP_STORE_UNAVAILABLE'
  | 'ZG_ERR_ZONEMAP_NOT_FOUND'
  | 'ZG_ERR_ZONEMAP_VERSION_NOT_FOUND'
  | 'ZG_ERR_DRILL_REFUSED'
  | 'ZG_ERR_DRILL_NOT_CONVERGED'
  | 'ZG_ERR_DRILL_PLAN_INVALID'
  | 'ZG_ERR_DRILL_CHECK_FAILED'
  | 'ZG_ERR_DRILL_ABORTED'
  | 'ZG_ERR_METRICS_SCRAPE'
  | 'ZG_ERR_DRAIN_TIMEOUT'
  | 'ZG_ERR_SHUTTING_DOWN'
  | 'ZG_ERR_UPSTREAM_FAILED'
  | 'ZG_ERR_UPSTREAM_TIMEOUT'
  | 'ZG_ERR_NO_UPSTREAM'
  | 'ZG_ERR_BODY_TOO_LARGE'
  | 'ZG_ERR_RATE_LIMITED'
  | 'ZG_ERR_HEADERS_TOO_LARGE'
  | 'ZG_ERR_BAD_REQUEST'
  | 'ZG_ERR_REQUEST_TIMEOUT'
  | 'ZG_ERR_UID_INVALID'
  | 'ZG_ERR_MQTT_OPTIONS_INVALID'
  | 'ZG_ERR_MQTT_MALFORMED'
  | 'ZG_ERR_MQTT_PROTOCOL'
  | 'ZG_ERR_MQTT_PACKET_TOO_LARGE'
  | 'ZG_ERR_MQTT_UNSUPPORTED_PROTOCOL'
  | 'ZG_ERR_MQTT_CONNECT_TIMEOUT'
  | 'ZG_ERR_MQTT_CLIENT_ID_INVALID'
  | 'ZG_ERR_MQTT_BAD_USERNAME'
  | 'ZG_ERR_MQTT_NOT_AUTHORIZED'
  | 'ZG_ERR_MQTT_BAD_AUTH_METHOD'
  | 'ZG_ERR_MQTT_SERVER_BUSY'
  | 'ZG_ERR_MQTT_UPSTREAM_UNAVAILABLE'
  | 'ZG_ERR_MQTT_TOPIC_INVALID'
  | 'ZG_ERR_MQTT_KEEPALIVE_TIMEOUT'
  | 'ZG_ERR_MQTT_MIGRATION_FAILED'
  | 'ZG_ERR_INTERNAL'
  | 'ZG_ERR_CONSOLE_FORBIDDEN'
  | 'ZG_ERR_CONSOLE_NOT_FOUND'
  | 'ZG_ERR_CONSOLE_REQUEST'
  | 'ZG_ERR_CONSOLE_ASSETS'
  | 'ZG_ERR_CONSOLE_INTERNAL';

export interface ZonegateErrorOptions {
  /** HTTP status a client sees for this error, when it reaches one. */
  readonly httpStatus?: number;
  /** MQTT 5 reason code a client sees for this error, when it reaches one. */
  readonly mqttReasonCode?: number;
  readonly cause?: unknown;
}

export class ZonegateError extends Error {
  readonly code: ZgErrorCode;
  readonly httpStatus: number;
  readonly mqttReasonCode: number;

  constructor(code: ZgErrorCode, message: string, options: ZonegateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = options.httpStatus ?? 500;
    // 0x80 "Unspecified error" (MQTT 5, 3.2.2.2) unless the stage knows better.
    this.mqttReasonCode = options.mqttReasonCode ?? 0x80;
  }
}

/** A command-line argument or option is missing or malformed (CLI exit code 2). */
export class UsageError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_USAGE', message, { httpStatus: 400 });
  }
}

/** One problem found while validating a document (zone map or config). */
export interface Problem {
  /** JSON path in dotted form, e.g. `zones.rz03.failover[1]`; empty for whole-document problems. */
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: Problem): string {
  return p.path === '' ? p.message : `${p.path}: ${p.message}`;
}

/** A document (zone map or config) was refused; `problems` lists every reason at once. */
abstract class InvalidDocumentError extends ZonegateError {
  readonly problems: readonly Problem[];
  constructor(code: ZgErrorCode, problems: readonly Problem[], source: string) {
    const n = problems.length;
    super(
      code,
      `${source} is invalid (${n} problem${n === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join('\n'),
      { httpStatus: 400 },
    );
    this.problems = problems;
  }
}

/** A zone map was refused; the gateway keeps serving the last good one. */
export class InvalidZoneMapError extends InvalidDocumentError {
  constructor(problems: readonly Problem[], source = 'zone map') {
    super('ZG_ERR_ZONEMAP_INVALID', problems, source);
  }
}

/** A config file was refused. */
export class InvalidConfigError extends InvalidDocumentError {
  constructor(problems: readonly Problem[], source = 'config') {
    super('ZG_ERR_CONFIG_INVALID', problems, source);
  }
}

/** A file could not be read or parsed as YAML/JSON. */
export class DocumentReadError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_DOCUMENT_READ', message, { httpStatus: 400, cause });
  }
}

/**
 * Work cut short because the gateway is shutting down (503): an IPC round trip or a scrape in
 * the cluster primary, a request whose upstream connection the shutdown closed.
 */
export class ShuttingDownError extends ZonegateError {
  constructor() {
    super('ZG_ERR_SHUTTING_DOWN', 'gateway is shutting down', { httpStatus: 503 });
  }
}

/** The router found no live zone for a request (HTTP 503, MQTT 0x88 "Server unavailable"). */
export class NoLiveZoneError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_NO_LIVE_ZONE', message, { httpStatus: 503, mqttReasonCode: 0x88 });
  }
}
