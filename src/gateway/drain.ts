/**
 * Graceful drain behind LVS (docs/design.md "Process shape").
 *
 * Order matters: LVS only stops sending new connections after its health check has failed
 * (interval × failure count), so /healthz fails first, the listeners stay open for `delayMs`
 * (new connections are still served), and only then do we stop accepting. In-flight requests
 * finish, keep-alive connections are closed after their current response, MQTT clients are
 * moved away by the MQTT module, and the whole thing is bounded by `timeoutMs`.
 *
 * The process (./process.ts) registers one `DrainParticipant` for its serving stages, or one
 * for its workers in the cluster primary; this file knows nothing else about them.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
// Not unref'd: a drain under way must keep the process alive until it is over.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ZonegateError } from '../core/errors.js';
import { settledWithin } from '../core/timeout.js';

/** One listener (or the MQTT module) taking part in the drain. */
export interface DrainParticipant {
  readonly name: string;
  /** Stop accepting new connections; existing ones keep working. */
  stopAccepting(): Promise<void> | void;
  /**
   * Finish in-flight work and close connections as they become idle (MQTT: move clients away,
   * paced). Resolves when nothing is left. `deadline` is a `Date.now()` value to finish by.
   */
  finish(deadline: number): Promise<void>;
  /** Deadline passed: cut whatever is left. */
  forceClose(): void;
}

export type DrainOutcome = 'clean' | 'timeout';

export interface DrainOptions {
  /** /healthz fails this long before the listeners close. */
  readonly delayMs: number;
  /** Bound on `finish` after the listeners close. */
  readonly timeoutMs: number;
  readonly logger?: Logger;
  /** The `zonegate_draining` gauge (src/admin/metrics.ts has one): 1 from the drain's start. */
  readonly metrics?: { readonly draining: { set(value: number): void } };
}

/** A participant's finish() did not complete before the drain deadline; it was cut. */
export class DrainTimeoutError extends ZonegateError {
  constructor(names: readonly string[], timeoutMs: number) {
    super('ZG_ERR_DRAIN_TIMEOUT', `drain did not finish within ${timeoutMs} ms: ${names.join(', ')}`, {
      httpStatus: 503,
    });
  }
}

export class DrainController {
  readonly #options: DrainOptions;
  readonly #participants: DrainParticipant[] = [];
  #started: Promise<DrainOutcome> | null = null;
  #phase: 'serving' | 'failing-health' | 'closing' | 'done' = 'serving';

  constructor(options: DrainOptions) {
    for (const key of ['delayMs', 'timeoutMs'] as const) {
      const v = options[key];
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`invalid drain ${key} ${String(v)}`);
    }
    this.#options = options;
  }

  /** True from the moment the drain starts: /healthz and /readyz answer 503. */
  get draining(): boolean {
    return this.#phase !== 'serving';
  }

  get phase(): 'serving' | 'failing-health' | 'closing' | 'done' {
    return this.#phase;
  }

  register(participant: DrainParticipant): void {
    this.#participants.push(participant);
  }

  /**
   * Idempotent: a second SIGTERM or POST /drain gets the drain already under way.
   * `delayMs` overrides the configured delay — a cluster worker passes 0 because the primary
   * has already failed /healthz and waited.
   */
  start(reason: string, delayMs: number = this.#options.delayMs): Promise<DrainOutcome> {
    this.#started ??= this.#run(reason, delayMs);
    return this.#started;
  }

  async #run(reason: string, delayMs: number): Promise<DrainOutcome> {
    const { timeoutMs, logger, metrics } = this.#options;
    this.#phase = 'failing-health';
    metrics?.draining.set(1);
    logger?.info({ reason, delayMs, timeoutMs }, 'drain: failing /healthz, still serving');
    if (delayMs > 0) await sleep(delayMs);

    this.#phase = 'closing';
    logger?.info('drain: no longer accepting connections');
    await Promise.all(this.#participants.map((p) => Promise.resolve(p.stopAccepting())));

    const deadline = Date.now() + timeoutMs;
    const pending = new Set(this.#participants.map((p) => p.name));
    const finishing = Promise.all(
      this.#participants.map((p) =>
        p.finish(deadline).then(
          () => {
            pending.delete(p.name);
          },
          (err: unknown) => {
            // A participant that failed to finish cleanly is cut like a slow one.
            logger?.error({ err, participant: p.name }, 'drain: participant failed');
          },
        ),
      ),
    );
    const timedOut = !(await settledWithin(finishing, timeoutMs));
    let outcome: DrainOutcome = 'clean';
    if (timedOut || pending.size > 0) {
      outcome = 'timeout';
      const names = [...pending];
      logger?.error({ err: new DrainTimeoutError(names, timeoutMs) }, 'drain: cutting what is left');
      for (const p of this.#participants) if (pending.has(p.name)) p.forceClose();
    }
    this.#phase = 'done';
    logger?.info({ outcome }, 'drain: done');
    return outcome;
  }
}

type AnyHttpServer = HttpServer | HttpsServer;

function onResponseClose(this: ServerResponse & { zgInflight?: Set<ServerResponse> }): void {
  this.zgInflight?.delete(this);
}

/**
 * Drain participant for a node:http / node:https server.
 *
 * Node 20's `server.close()` closes the connections that are idle at that moment but keeps
 * answering with `keep-alive` on the others, so they would stay open until the client leaves.
 * We therefore mark every in-flight and later response `connection: close` (the socket then
 * closes right after the response — no race with a client reusing an idle socket), and sweep
 * idle connections until none are left.
 */
export function httpDrainParticipant(server: AnyHttpServer, name: string, sweepMs = 50): DrainParticipant {
  const inflight = new Set<ServerResponse>();
  let closing = false;
  server.on(
    'request',
    (_req: IncomingMessage, res: ServerResponse & { zgInflight?: Set<ServerResponse> }) => {
      if (closing) {
        if (!res.headersSent) res.setHeader('connection', 'close');
        return;
      }
      res.zgInflight = inflight;
      inflight.add(res);
      res.on('close', onResponseClose);
    },
  );
  let closed: Promise<void> | null = null;
  return {
    name,
    stopAccepting() {
      closing = true;
      for (const res of inflight) if (!res.headersSent) res.setHeader('connection', 'close');
      closed = new Promise((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      });
    },
    async finish(deadline) {
      const done = closed ?? Promise.resolve();
      let finished = false;
      void done.then(() => {
        finished = true;
      });
      // A response already sent with keep-alive leaves an idle socket behind; sweep those.
      while (!finished && Date.now() < deadline) {
        server.closeIdleConnections();
        await Promise.race([done, sleep(sweepMs)]);
      }
      if (!finished) throw new Error(`${name}: connections still open at the deadline`);
    },
    forceClose() {
      server.closeAllConnections();
    },
  };
}

export interface SignalOptions {
  readonly drain: DrainController;
  /** SIGHUP: reload what can change live (certificates, config parts). */
  readonly reload: () => Promise<unknown>;
  /** Called once the drain is over (normally `process.exit`). */
  readonly exit: (code: number) => void;
  readonly logger?: Logger;
}

/**
 * SIGTERM / SIGINT start the drain and exit when it is done; a second SIGINT exits at once
 * (an operator at a terminal who does not want to wait). SIGHUP reloads. Returns a function
 * that removes the handlers.
 */
export function installSignalHandlers(options: SignalOptions): () => void {
  const { drain, reload, exit, logger } = options;
  let interrupts = 0;
  const onTerm = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGINT' && ++interrupts > 1) {
      logger?.warn('second SIGINT: exiting without waiting for the drain');
      exit(1);
      return;
    }
    drain.start(signal).then(
      (outcome) => exit(outcome === 'clean' ? 0 : 1),
      (err: unknown) => {
        logger?.error({ err }, 'drain failed');
        exit(1);
      },
    );
  };
  const onHup = (): void => {
    reload().then(
      (report) => logger?.info({ report }, 'SIGHUP: reloaded'),
      (err: unknown) => logger?.error({ err }, 'SIGHUP: reload failed, keeping the previous settings'),
    );
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onTerm);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onTerm);
    process.off('SIGHUP', onHup);
  };
}
