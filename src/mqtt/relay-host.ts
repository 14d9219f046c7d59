/**
 * What the relays (client-relay.ts, broker-relay.ts) and the moves (migration.ts) see of a
 * client connection. connection.ts is the only implementation and the one owner of its state:
 * every field here is read-only, and each change the relays and moves make is a named method
 * of the connection. This file imports no module that imports it, so src/mqtt has no cycle.
 */
import type { Socket } from 'node:net';
import type { ZonegateError } from '../core/errors.js';
import type { Identity, RoutedDecision, Self } from '../router/index.js';
import type { CompiledZoneMap, ZoneMapHolder } from '../zonemap/index.js';
import type { ResolvedMqttConfig } from './options.js';
import type { SessionState } from './session-state.js';
import type { MqttStats } from './stats.js';
import type { DrainEnd, UpstreamLink } from './upstream-link.js';

/** Logging surface this stage needs; a pino Logger fits. */
export interface MqttLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The server-wide parts a connection's relays and moves read. */
export interface HostContext {
  readonly config: ResolvedMqttConfig;
  readonly holder: ZoneMapHolder;
  readonly self: Self;
  readonly random: () => number;
  readonly stats: MqttStats;
  readonly logger: MqttLogger;
  /** Coarse clock (ms), advanced by the server's sweep. */
  readonly clock: number;
  /** The gateway is draining: every move is a "reconnect elsewhere". */
  readonly draining: boolean;
}

export type Phase = 'connect' | 'upstream' | 'relay' | 'closed';

/** Why a connection is (last) moved: a bounded metric label. */
export type MoveCause = 'down' | 'drain' | 'rebalance' | 'shutdown';

/** Why a move failed (metric label `reason`, a bounded set). */
export type MoveFailure =
  | 'no-broker'
  | 'unreachable'
  | 'refused'
  | 'resubscribe-refused'
  | 'timeout'
  | 'broker-disconnect'
  | 'client-closed';

export interface RelayHost {
  readonly ctx: HostContext;
  readonly socket: Socket;
  readonly phase: Phase;
  readonly version: number;
  readonly identity: Identity | null;
  /** Zone the current session lives in. */
  readonly zone: string | null;
  readonly persistent: boolean;
  readonly current: UpstreamLink | null;
  readonly next: UpstreamLink | null;
  readonly leaving: readonly UpstreamLink[] | null;
  readonly session: SessionState<UpstreamLink>;
  readonly clientPause: number;
  readonly moving: boolean;
  readonly moveQueued: boolean;
  readonly moveDue: number;
  /** The batch this connection's move belongs to (move-batch.ts). */
  readonly batch: { readonly unswitched: number } | null;

  /* relay output and backpressure */
  toBroker(link: UpstreamLink, frame: Buffer): void;
  linkWrite(link: UpstreamLink, frame: Buffer): void;
  toClient(frame: Buffer): void;
  setClientPause(bit: number, on: boolean): void;
  applyLinkPause(link: UpstreamLink): void;
  mustHold(qos: number): boolean;
  hold(link: UpstreamLink, frame: Buffer, at: number): void;
  releaseHeld(): void;
  /** A client packet of `type` relayed (counted per connection and per stage). */
  countFromClient(type: number): void;

  /* ends */
  fail(error: ZonegateError, side: 'client' | 'broker'): false;
  teardown(end: string, lastWords: Buffer | null): void;
  linkBroken(link: UpstreamLink, error: ZonegateError, failure?: MoveFailure): boolean;
  onBrokerConnack(link: UpstreamLink, frame: Buffer): boolean;

  /* moves: the state changes migration.ts asks of the connection */
  setMoveCause(cause: MoveCause): void;
  /** A move to `decision`'s zone starts (counted); dials the zone's brokers. False: none listed. */
  beginMove(decision: RoutedDecision, map: CompiledZoneMap): boolean;
  /** Try the next broker of the zone being dialled. False: every one was tried. */
  dialNextBroker(): boolean;
  /** Its new session is subscribed. True: switch now; false: it waits for the rest of its batch. */
  batchPrepared(): boolean;
  /** `link` is the client's session from now on (its move is done). */
  adoptSession(link: UpstreamLink): void;
  /** The move under way ends without a switch: the link being opened is closed. */
  abandonMove(): void;
  leaveBatch(): void;
  /** The current broker is gone (the link is closed). */
  dropCurrent(): void;
  addLeaving(link: UpstreamLink): void;
  /** False when `link` was not an old session of this connection. */
  removeLeaving(link: UpstreamLink): boolean;
  moveEnded(result: 'ok' | 'failed' | 'disconnected', reason: string): void;
  drainEnded(link: UpstreamLink, end: DrainEnd, durationMs: number): void;
  /** Queue another move after `delayMs` (the map changed again). */
  requeue(delayMs: number): void;
}
