/**
 * pino JSON logging and the access log (issue 6 "Logs").
 *
 * The access log is the only per-request logging: one line per HTTP request or MQTT session,
 * sampled, built from fields the hot path already has (no cookie values, no query strings —
 * both can carry credentials).
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = LevelWithSilent;

export interface LoggingConfig {
  readonly level: LogLevel;
  /** Fraction (0..1) of successful requests / sessions that get an access log line. */
  readonly accessSampleRate: number;
}

export const DEFAULT_LOGGING: LoggingConfig = Object.freeze({ level: 'info', accessSampleRate: 1 });

/**
 * Header paths pino replaces with `[redacted]` wherever a request or response object is logged:
 * a cookie or bearer token in a log file is a credential leak.
 */
export const REDACT_PATHS: readonly string[] = [
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  'headers["proxy-authorization"]',
  '*.headers.cookie',
  '*.headers.authorization',
  '*.headers["set-cookie"]',
  '*.headers["proxy-authorization"]',
  'cookie',
  'authorization',
  'token',
];

export function createLogger(
  config: Pick<LoggingConfig, 'level'> = DEFAULT_LOGGING,
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.level,
    base: { pid: process.pid },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export interface HttpAccessEntry {
  readonly protocol: string;
  readonly method?: string;
  /**
   * The request target as received. Only its path is written — see {@link accessPath} — so the
   * caller can pass `req.url` as it is and pays for the cut only on lines that are logged.
   */
  readonly path?: string;
  readonly status: number;
  /** Empty when the request was refused before routing. */
  readonly zone: string;
  readonly colour: string;
  /** Router reason, or the error code of a refused request. */
  readonly reason: string;
  readonly upstream?: string;
  readonly durationMs: number;
  readonly upstreamMs?: number;
  /** `x-request-id` as kept or generated; answered to the client and sent upstream. */
  readonly requestId?: string;
  /** W3C trace: the trace, the gateway's span, and the client's span (absent when we started it). */
  readonly traceId?: string;
  readonly spanId?: string;
  readonly parentSpanId?: string;
  /** The client as the first hop saw it (PROXY protocol source when there is one). */
  readonly client?: string;
  readonly host?: string;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  /** The full error message (upstream address, cause), which the client is not shown. */
  readonly detail?: string;
}

export interface MqttSessionEntry {
  readonly protocol: string;
  readonly zone: string | null;
  readonly colour: string | null;
  readonly reason: string;
  readonly upstream: string | null;
  /** CONNACK reason / return code sent to the client. */
  readonly result: number;
  readonly durationMs: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  /** Why the session ended, e.g. `client-disconnect`, `drain`, `upstream-closed`. */
  readonly end: string;
}

/** Longest path an access line carries: a client must not be able to write megabytes into our logs. */
export const MAX_ACCESS_PATH_CHARS = 256;

/**
 * The part of a request target an access line may carry: the path, without the query string
 * (tokens, signatures and e-mail addresses travel there) nor, for an absolute-form target
 * (RFC 9112 §3.2.2), the scheme, user info and host; cut to MAX_ACCESS_PATH_CHARS with a
 * trailing `…`.
 */
export function accessPath(target: string): string {
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    // Absolute form `http://user:pass@host/p`: skip to the path. `*` (OPTIONS) and the
    // authority form of CONNECT have no `://` and stay as they are, minus any query.
    const scheme = target.indexOf('://');
    if (scheme >= 0) {
      const slash = target.indexOf('/', scheme + 3);
      if (slash < 0) return '/';
      start = slash;
    }
  }
  let end = target.indexOf('?', start);
  const hash = target.indexOf('#', start);
  if (end < 0 || (hash >= 0 && hash < end)) end = hash;
  if (end < 0) end = target.length;
  if (end - start > MAX_ACCESS_PATH_CHARS) return `${target.slice(start, start + MAX_ACCESS_PATH_CHARS)}…`;
  return start === 0 && end === target.length ? target : target.slice(start, end);
}

export interface AccessLog {
  http(entry: HttpAccessEntry): void;
  mqtt(entry: MqttSessionEntry): void;
}

/**
 * Sampled access log. Failures (HTTP 5xx, a refused MQTT CONNECT) are always written: they are
 * rare and exactly the lines an operator needs when something goes wrong.
 */
export function createAccessLog(
  logger: Logger,
  sampleRate: number,
  random: () => number = Math.random,
): AccessLog {
  if (!(sampleRate >= 0 && sampleRate <= 1)) {
    throw new RangeError(`invalid accessSampleRate ${String(sampleRate)}: expected 0..1`);
  }
  const child = logger.child({ kind: 'access' });
  const sampled = (): boolean => sampleRate >= 1 || (sampleRate > 0 && random() < sampleRate);
  return {
    http(entry) {
      if (!(entry.status >= 500 || sampled())) return;
      // Only now, for a line that is written, cut the target down to its path.
      if (entry.path === undefined) child.info(entry, 'http');
      else child.info({ ...entry, path: accessPath(entry.path) }, 'http');
    },
    mqtt(entry) {
      if (entry.result !== 0 || sampled()) child.info(entry, 'mqtt');
    },
  };
}
