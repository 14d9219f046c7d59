/**
 * pino JSON logging, the access log, and the log subscriber of the event bus (docs/design.md
 * "Logs").
 *
 * The access log is the only per-request logging: one line per HTTP request or MQTT session,
 * sampled, built from fields the hot path already has (no cookie values, no query strings —
 * both can carry credentials), written in buffered batches (BufferedLog).
 */
import { fstatSync, writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { putLatin1 } from './bytes.js';
import {
  HTTP_PROTOCOL_LABEL,
  type EventBus,
  type MqttSessionEndEvent,
  type RequestDoneEvent,
} from './events.js';

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
  destination?: DestinationStream | BufferedLog,
): Logger {
  const options = {
    level: config.level,
    base: { pid: process.pid },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination === undefined) return pino(options);
  if (!(destination instanceof BufferedLog)) return pino(options, destination);
  // General lines are rare and an operator watches for them: each is written at once. Access
  // lines (loggerSink finds the buffered destination behind this stream) wait for a batch.
  const d = destination;
  const stream = {
    [kBuffered]: d,
    write(line: string): void {
      d.write(line);
      d.flush();
    },
  };
  return pino(options, stream);
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

/** Where access lines go: a pino / sonic-boom destination, or any stream that takes strings. */
export interface LineSink {
  write(line: string): unknown;
}

/**
 * Bytes of log lines gathered before one write (nginx's `access_log … buffer=64k`). Each
 * hand-over costs a Buffer (and sonic-boom's merged copy): at 8 KiB, under 24k requests/s, the
 * hand-overs alone brought V8 a mark-compact every ~0.7 s (7-8 ms pauses, which made the p99);
 * at 64 KiB, two in 8 s (`--trace-gc`).
 */
export const LOG_BUFFER_BYTES = 64 * 1024;
/** A quiet gateway's buffered lines are written at least this often (nginx's `flush=`). */
export const LOG_FLUSH_MS = 1000;

interface BoomBuffer {
  write(data: Buffer): boolean;
  flush(cb?: (err?: Error | null) => void): void;
  flushSync(): void;
  readonly destroyed?: boolean;
  on(event: 'error', fn: (err: Error) => void): unknown;
}

function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/**
 * A buffered log destination: each line is encoded straight into a LOG_BUFFER_BYTES Buffer (no
 * array of lines, no joined string); the full Buffer is handed to sonic-boom, at least every
 * LOG_FLUSH_MS. To a regular file it is written at once (as nginx writes its buffered access
 * log: one write per 64 KiB, and nothing is ever in flight, so a process that exits without a
 * graceful stop still leaves every line it wrote). To a pipe or socket (a container's or
 * journald's log reader) it is written without blocking, so a slow reader never stalls
 * requests; a graceful stop waits for those writes (AccessLog.flush), a crash can lose the
 * batch in flight. (sonic-boom's own string mode re-measures its whole pending buffer on every
 * write — kilobytes of garbage per line.)
 */
export class BufferedLog implements LineSink {
  /** To a pipe or socket; null for a regular file. */
  readonly #boom: BoomBuffer | null;
  /**
   * A regular file gets each batch with one write(2) of our own buffer, which is then reused:
   * no 64 KiB Buffer per batch and no sonic-boom copy of it (sonic-boom only serves pipes and
   * sockets, where a write may be in flight).
   */
  readonly #fd: number;
  #buf: Buffer = Buffer.allocUnsafe(LOG_BUFFER_BYTES);
  #used = 0;

  constructor(fd: number) {
    this.#fd = fd;
    // minLength 1: a handed-over batch is written at once, and flush(cb) waits for the write.
    this.#boom = isRegularFile(fd)
      ? null
      : (pino.destination({ fd, sync: false, minLength: 1, contentMode: 'buffer' }) as unknown as BoomBuffer);
    // A log reader that went away (EPIPE) must not take the gateway down with an unhandled
    // 'error': the lines are lost, as they would be with nobody reading them.
    this.#boom?.on('error', () => undefined);
    setInterval(() => this.flush(), LOG_FLUSH_MS).unref();
    // Last resort for a process that exits without flushing (a crash, process.exit): write what
    // is buffered now. A graceful stop flushes first (AccessLog.flush).
    process.once('exit', () => this.flushSync());
  }

  write(line: string): boolean {
    // A UTF-16 code unit is at most 3 UTF-8 bytes: make room first when the line might not fit.
    const most = line.length * 3;
    if (this.#used + most > this.#buf.length) {
      this.#handOver();
      if (most > this.#buf.length) {
        // Longer than a whole buffer (a general line with a long stack): on its own.
        const b = Buffer.from(line);
        if (this.#boom === null) this.#writeFile(b, b.length);
        else if (this.#boom.destroyed !== true) this.#boom.write(b);
        return true;
      }
    }
    this.#used += this.#buf.write(line, this.#used, 'utf8');
    // Nearly full: written now rather than at the next line, which would not fit anyway.
    if (this.#used >= LOG_BUFFER_BYTES - 512) this.#handOver();
    return true;
  }

  /** The batch buffer and how much of it is used: see reserve(). */
  get buffer(): Buffer {
    return this.#buf;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * Make room for `bytes` in the batch (writing out the batch first when they do not fit);
   * false when they could never fit. The caller encodes at `buffer[used]`, then commit()s.
   */
  reserve(bytes: number): boolean {
    if (bytes > this.#buf.length) return false;
    if (this.#used + bytes > this.#buf.length) this.#handOver();
    return true;
  }

  /** Bytes up to `end` were encoded after reserve(). */
  commit(end: number): void {
    this.#used = end;
    if (end >= LOG_BUFFER_BYTES - 512) this.#handOver();
  }

  #handOver(): void {
    if (this.#used === 0) return;
    const boom = this.#boom;
    if (boom === null) {
      this.#writeFile(this.#buf, this.#used);
      this.#used = 0;
      return;
    }
    if (boom.destroyed === true) return;
    // sonic-boom keeps the Buffer until it is written: the next lines go to a new one.
    boom.write(this.#buf.subarray(0, this.#used));
    this.#buf = Buffer.allocUnsafe(LOG_BUFFER_BYTES);
    this.#used = 0;
  }

  #writeFile(buf: Buffer, length: number): void {
    try {
      let off = 0;
      while (off < length) off += writeSync(this.#fd, buf, off, length - off);
    } catch {
      // A full disk or a failing one: these lines are lost, as sonic-boom's 'error' loses them.
    }
  }

  /** Write what is buffered; `cb` once it is written. */
  flush(cb?: () => void): void {
    this.#handOver();
    if (cb === undefined) return;
    const boom = this.#boom;
    if (boom === null || boom.destroyed === true) {
      cb();
      return;
    }
    try {
      boom.flush(() => cb());
    } catch {
      cb?.();
    }
  }

  flushSync(): void {
    try {
      this.#handOver();
      const boom = this.#boom;
      if (boom !== null && boom.destroyed !== true) boom.flushSync();
    } catch {
      // An async write still in flight, or the fd is gone: nothing more can be done at exit.
    }
  }
}

const destinations = new Map<number, BufferedLog>();

/**
 * The process's log destination on `fd` (2 for `zonegate start`). One per fd: the general log
 * and the access log share it, so their lines are never torn apart by two writers on one pipe.
 */
export function logDestination(fd: number): BufferedLog {
  let d = destinations.get(fd);
  if (d === undefined) {
    d = new BufferedLog(fd);
    destinations.set(fd, d);
  }
  return d;
}

const kBuffered = Symbol('zonegate.bufferedLog');

/** The destination a pino logger writes to: access lines share it unless told otherwise. */
export function loggerSink(logger: Logger): LineSink {
  const stream = (logger as unknown as Record<symbol, LineSink & { [kBuffered]?: BufferedLog }>)[
    pino.symbols.streamSym
  ] as LineSink & { [kBuffered]?: BufferedLog };
  return stream[kBuffered] ?? stream;
}

/** ISO time of the current millisecond, built once per millisecond however many lines share it. */
let isoMs = 0;
let isoText = '';
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/** Milliseconds to three decimals (microseconds): enough for a gateway hop, short in the line. */
function ms3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

// --- the access line encoder -----------------------------------------------------------------
// An access line is encoded straight into the log's batch buffer, piece by piece: no string is
// built, flattened and UTF-8 encoded per line (with both builds loaded at once on one core, the
// gateway served 1.04-1.075x the requests per CPU-second of the template-built line).

/** How every access line (HTTP and MQTT) starts: pino's shape. */
const LINE_START = '{"level":30,"time":"';

/** `s` as a JSON string, quotes included: printable ASCII as is, anything else by JSON.stringify. */
function putString(buf: Buffer, pos: number, s: string): number {
  const start = pos;
  buf[pos++] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c)
      return start + buf.write(JSON.stringify(s), start, 'utf8');
    buf[pos++] = c;
  }
  buf[pos++] = 0x22;
  return pos;
}

/** A non-negative integer below 2^53, in decimal. */
function putUint(buf: Buffer, pos: number, n: number): number {
  let digits = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
  let end = pos + digits;
  for (let m = n; end > pos; m = Math.floor(m / 10)) buf[--end] = 0x30 + (m % 10);
  return pos + digits;
}

/** `ms3(v)` as JavaScript prints it (`12`, `0.5`, `1.235`). */
function putMs3(buf: Buffer, pos: number, v: number): number {
  const m = Math.round(v * 1000);
  // Never for a duration, but the line must stay what String() would give.
  if (!(m >= 0 && m <= Number.MAX_SAFE_INTEGER)) return putLatin1(buf, pos, String(ms3(v)));
  const ip = Math.floor(m / 1000);
  const f = m - ip * 1000;
  pos = putUint(buf, pos, ip);
  if (f === 0) return pos;
  buf[pos++] = 0x2e;
  buf[pos++] = 0x30 + Math.floor(f / 100);
  const rest = f % 100;
  if (rest === 0) return pos;
  buf[pos++] = 0x30 + Math.floor(rest / 10);
  if (rest % 10 !== 0) buf[pos++] = 0x30 + (rest % 10);
  return pos;
}

/** Bytes a JSON string of `s` can take at most (`\u00XX` per code unit, quotes). */
function stringBound(s: string): number {
  return 6 * s.length + 2;
}

/** Bytes of an access line's fixed parts and numbers at most (every key, 8 numbers, the time). */
const ACCESS_LINE_FIXED_BOUND = 512;

/**
 * Encodes one access line (`e`, already sampled) at `buf[pos]`, newline included; returns the
 * end. `buf` must have `accessLineBound(e)` bytes free from `pos`.
 */
function encodeAccessLine(
  buf: Buffer,
  pos: number,
  pidPart: string,
  e: RequestDoneEvent,
  path: string,
): number {
  pos = putLatin1(buf, pos, LINE_START);
  pos = putLatin1(buf, pos, isoNow());
  pos = putLatin1(buf, pos, pidPart);
  pos = putLatin1(buf, pos, ',"protocol":"');
  pos = putLatin1(buf, pos, HTTP_PROTOCOL_LABEL[e.protocol]);
  buf[pos++] = 0x22;
  const t = e.trace;
  if (t !== null) {
    pos = putString(buf, putLatin1(buf, pos, ',"requestId":'), t.id);
    pos = putString(buf, putLatin1(buf, pos, ',"client":'), t.clientAddress);
    pos = putString(buf, putLatin1(buf, pos, ',"host":'), t.host);
  }
  pos = putString(buf, putLatin1(buf, pos, ',"method":'), e.method);
  pos = putString(buf, putLatin1(buf, pos, ',"path":'), path);
  pos = putUint(buf, putLatin1(buf, pos, ',"status":'), e.status);
  if (t !== null) {
    pos = putUint(buf, putLatin1(buf, pos, ',"bytesIn":'), t.bytesIn);
    pos = putUint(buf, putLatin1(buf, pos, ',"bytesOut":'), t.bytesOut);
  }
  pos = putString(buf, putLatin1(buf, pos, ',"zone":'), e.zone);
  pos = putString(buf, putLatin1(buf, pos, ',"colour":'), e.colour);
  pos = putString(buf, putLatin1(buf, pos, ',"reason":'), e.reason);
  pos = putString(buf, putLatin1(buf, pos, ',"upstream":'), e.upstream);
  if (e.upstreamMs >= 0) pos = putMs3(buf, putLatin1(buf, pos, ',"upstreamMs":'), e.upstreamMs);
  pos = putMs3(buf, putLatin1(buf, pos, ',"durationMs":'), e.durationMs);
  if (t !== null) {
    const tc = t.trace;
    pos = putString(buf, putLatin1(buf, pos, ',"traceId":'), tc.traceId);
    pos = putString(buf, putLatin1(buf, pos, ',"spanId":'), tc.spanId);
    if (tc.parentSpanId !== null)
      pos = putString(buf, putLatin1(buf, pos, ',"parentSpanId":'), tc.parentSpanId);
    if (t.detail !== '') pos = putString(buf, putLatin1(buf, pos, ',"detail":'), t.detail);
  }
  return putLatin1(buf, pos, ',"msg":"http"}\n');
}

function accessLineBound(e: RequestDoneEvent, path: string): number {
  let n = ACCESS_LINE_FIXED_BOUND + stringBound(e.method) + stringBound(path) + stringBound(e.zone);
  n += stringBound(e.colour) + stringBound(e.reason) + stringBound(e.upstream);
  const t = e.trace;
  if (t !== null) {
    n += stringBound(t.id) + stringBound(t.clientAddress) + stringBound(t.host) + stringBound(t.detail);
    n += stringBound(t.trace.traceId) + stringBound(t.trace.spanId) + stringBound(t.trace.parentSpanId ?? '');
  }
  return n;
}

export interface AccessLog {
  http(e: RequestDoneEvent): void;
  mqtt(e: MqttSessionEndEvent): void;
  /** Write what is buffered (resolves once it is written). */
  flush(): Promise<void>;
}

/**
 * Sampled access log. Failures (HTTP 5xx, a refused MQTT CONNECT) are always written: they are
 * rare and exactly the lines an operator needs when something goes wrong.
 *
 * A line is built by hand, not by pino: its fields are known, so there is nothing to redact and
 * no object to walk — the path is cut before the query string, and no header value is ever
 * among the fields (cookies and tokens cannot reach it by construction). The line has pino's
 * shape (`level`, `time`, `pid`, `kind: "access"`, …, `msg`), so one parser reads both logs.
 */
export function createAccessLog(
  sink: LineSink,
  sampleRate: number,
  random: () => number = Math.random,
): AccessLog {
  if (!(sampleRate >= 0 && sampleRate <= 1)) {
    throw new RangeError(`invalid accessSampleRate ${String(sampleRate)}: expected 0..1`);
  }
  const pid = `","pid":${process.pid},"kind":"access"`;
  const q = JSON.stringify;
  const sampled = (): boolean => sampleRate >= 1 || (sampleRate > 0 && random() < sampleRate);
  const batched = sink instanceof BufferedLog ? sink : null;
  /** For a sink that takes strings: lines are encoded here, then decoded for it. */
  let scratch: Buffer | null = null;
  return {
    http(e) {
      if (!(e.status >= 500 || sampled())) return;
      const path = accessPath(e.target);
      const bound = accessLineBound(e, path);
      if (batched !== null && batched.reserve(bound)) {
        batched.commit(encodeAccessLine(batched.buffer, batched.used, pid, e, path));
        return;
      }
      if (scratch === null || scratch.length < bound) scratch = Buffer.allocUnsafe(Math.max(bound, 4096));
      const end = encodeAccessLine(scratch, 0, pid, e, path);
      sink.write(scratch.toString('utf8', 0, end));
    },
    mqtt(e) {
      if (!(e.result !== 0 || sampled())) return;
      sink.write(
        `${LINE_START}${isoNow()}${pid},"protocol":${q(e.protocol)},"zone":${q(e.zone)},"colour":${q(e.colour)}` +
          `,"reason":${q(e.reason)},"upstream":${q(e.upstream)},"result":${e.result},"durationMs":${ms3(e.durationMs)}` +
          `,"packetsIn":${e.packetsIn},"packetsOut":${e.packetsOut},"end":${q(e.end)},"msg":"mqtt"}\n`,
      );
    },
    flush() {
      if (!(sink instanceof BufferedLog)) return Promise.resolve();
      return new Promise<void>((resolve) => sink.flush(resolve));
    },
  };
}

/**
 * The log subscriber: the one place where facts published on the gateway's event bus
 * (src/core/events.ts) become log lines — each fact once. Per-request facts go to the access
 * log only (sampled); what an operator must act on (a bug, an upstream ejected or unhealthy, a
 * map applied or refused, a certificate reload) goes to the general log. Returns the function
 * that stops it.
 */
export function subscribeLog(bus: EventBus, logger: Logger, access: AccessLog | null): () => void {
  const offs: (() => void)[] = [];
  if (access !== null) {
    offs.push(bus.requestDone.subscribe((e) => access.http(e)));
    offs.push(bus.mqttSessionEnd.subscribe((e) => access.mqtt(e)));
  }
  offs.push(
    // A bug in the gateway: the request itself is in the access log (reason ZG_ERR_INTERNAL);
    // the stack goes to the operator's log whatever the access-log sampling.
    bus.internalError.subscribe((e) =>
      logger.error(
        { err: e.err, code: 'ZG_ERR_INTERNAL', protocol: e.protocol },
        'internal error while handling a request',
      ),
    ),
    bus.retry.subscribe((e) =>
      logger.warn(
        { zone: e.zone, colour: e.colour, from: e.from, to: e.to, code: e.code },
        'upstream connect failed; retried on another endpoint',
      ),
    ),
    bus.ejection.subscribe((e) =>
      logger.warn(
        { protocol: e.protocol, zone: e.zone, upstream: e.upstream, ejectMs: e.ejectMs, reason: e.reason },
        'upstream ejected',
      ),
    ),
    bus.healthChange.subscribe((e) => {
      if (e.healthy) logger.info({ protocol: e.protocol, upstream: e.upstream }, 'upstream healthy again');
      else logger.warn({ protocol: e.protocol, upstream: e.upstream }, 'upstream unhealthy');
    }),
    bus.zonemap.subscribe((e) => {
      if (e.type === 'applied') {
        logger.info(
          { version: e.version, previous: e.previous, applySeconds: e.applySeconds },
          'zone map applied',
        );
      } else if (e.type === 'refused') {
        logger.warn({ error: e.error.message }, 'zone map refused; keeping the last good one');
      } else {
        logger.warn({ error: e.error.message }, 'zone map source trouble');
      }
    }),
    bus.listener.subscribe((e) => {
      switch (e.type) {
        case 'tls-reloaded':
          logger.info({ listener: e.listener }, 'certificates reloaded');
          return;
        case 'tls-reload-failed':
          logger.error(
            { err: e.error, listener: e.listener },
            'certificate reload failed; old certificates stay',
          );
          return;
        case 'proxy-error':
          logger.warn({ event: e }, 'listener refused a connection');
          return;
        case 'connection-refused':
          // A flood refuses thousands a second: the counter tells the story, the log must not.
          if (e.reason !== 'client-connections' && e.reason !== 'pending-evicted')
            logger.warn({ event: e }, 'listener refused a connection');
          return;
        default:
          return;
      }
    }),
    bus.subscriberFailure.subscribe((e) =>
      logger.error(
        { err: e.err, channel: e.channel },
        'an event subscriber failed (a bug: a metric or log line is missing)',
      ),
    ),
  );
  return () => {
    for (const off of offs) off();
  };
}
