/**
 * One client connection: the per-connection state machine. Bounded CONNECT, routing to its
 * zone's broker, the links to brokers, timers and the one teardown. The relay lives in
 * client-relay.ts (client -> broker) and broker-relay.ts (broker -> client); moving the session
 * to another broker under the client in migration.ts; the order brokers are tried in in
 * broker-dial.ts. Those are plain functions of the connection's RelayHost view (relay-host.ts),
 * so no closure is created per connection or packet; the connection alone writes its fields.
 */
import type { Socket } from 'node:net';
import { NoLiveZoneError, ZonegateError } from '../core/errors.js';
import type { Channel, MqttSessionEndEvent } from '../core/events.js';
import { decide, type Identity, type RoutedDecision } from '../router/index.js';
import type { BrokerSet } from '../upstream/index.js';
import type { CompiledZoneMap } from '../zonemap/index.js';
import { DialPlan, type DialGate } from './broker-dial.js';
import { isServerFailure } from './broker-probe.js';
import { deliverPublish, relayFromBroker } from './broker-relay.js';
import { relayFromClient } from './client-relay.js';
import { readBrokerConnack, refusalCode, refusalConnack } from './connack.js';
import { moveConnect, peekConnectLevel, readConnect, upstreamConnect, withClientId } from './connect.js';
import { PLAIN_DISCONNECT, serverDisconnect } from './disconnect.js';
import {
  MqttConnectTimeoutError,
  MqttKeepAliveTimeoutError,
  MqttMalformedPacketError,
  MqttMigrationFailedError,
  MqttProtocolError,
  MqttServerBusyError,
  MqttUpstreamUnavailableError,
  uidRefusalError,
} from './errors.js';
import { FrameReader, headerLengthOf, type FrameSink } from './frame-reader.js';
import { identifyMqtt, type CertUidReader } from '../identity/index.js';
import * as migration from './migration.js';
import type { MoveBatch } from './move-batch.js';
import type { Movable, MoveScheduler } from './move-scheduler.js';
import * as T from './packet-type.js';
import { PAUSE_CONNACK, PAUSE_DRAIN, PAUSE_WINDOW } from './pause.js';
import { keepaliveDeadlineMs, PINGREQ_FRAME } from './pingreq.js';
import type { HostContext, MoveCause, MoveFailure, Phase, RelayHost } from './relay-host.js';
import { downRun, upRun } from './relay-runs.js';
import { SessionState } from './session-state.js';
import { UpstreamLink, type DrainEnd, type LinkOwner } from './upstream-link.js';

export type { MqttLogger } from './relay-host.js';

/** What a connection needs from its server. */
export interface ConnectionContext extends HostContext {
  /** Where a session's end is published (the log subscriber writes its access line). */
  readonly sessionEnd: Channel<MqttSessionEndEvent> | undefined;
  readonly scheduler: MoveScheduler;
  readonly certUid: CertUidReader | undefined;
  /** The brokers as upstream endpoints: their health orders each connect, each connect's end feeds it. */
  readonly brokers: BrokerSet;
  /** Turns for opening sessions at each broker (limits.brokerConnectsInFlight). */
  readonly dialGate: DialGate;
  atConnectionLimit(): boolean;
  /** A broker failed a connect (refused, timed out, server failure in its CONNACK) and is now ejected. */
  /** A broker taken out of service for `ejectMs` by this connect's failure (`why`). */
  brokerEjected(address: string, zone: string, why: string, ejectMs: number): void;
  connectionClosed(conn: MqttConnection): void;
  connectionUp(conn: MqttConnection): void;
  moveStarted(conn: MqttConnection): void;
  /** `reason`: why a move failed (migration.ts MoveFailure), 'none' otherwise. */
  moveFinished(conn: MqttConnection, result: 'ok' | 'failed' | 'disconnected', reason: string): void;
  /** The drain of an old session ended (`empty`: done; anything else: abandoned). */
  drainEnded(conn: MqttConnection, link: UpstreamLink, end: DrainEnd, durationMs: number): void;
}

/** A broker -> client PUBLISH the client cannot take yet (its window is full or its socket is). */
interface Held {
  readonly link: UpstreamLink;
  readonly frame: Buffer;
  /** Offset of its packet id, -1 for QoS 0. */
  readonly at: number;
}

/** Reason codes an MQTT 5 server may put in DISCONNECT (§3.14.2.1). */
const DISCONNECT_CODES = new Set([
  0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
  0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);

/**
 * The one owner of a client connection's state. Fields other modules may read are public
 * getters over private state (`_x`); the relays and moves change it through RelayHost methods.
 */
export class MqttConnection implements FrameSink, LinkOwner, Movable, RelayHost {
  readonly socket: Socket;
  readonly protocol: 'mqtt' | 'mqtts';
  readonly ctx: ConnectionContext;
  private readonly reader: FrameReader;
  private _phase: Phase = 'connect';
  private readonly startedAt: number;
  private readonly connectDeadline: number;
  private _version = 4;
  private _identity: Identity | null = null;
  private _zone: string | null = null;
  private _colour: string | null = null;
  private _reason = '';
  private connectFrame: Buffer | null = null;
  private _persistent = false;
  private keepaliveMs = 0;
  private lastRx: number;
  private _current: UpstreamLink | null = null;
  /** Address of the last broker this session lived at (for the access log). */
  private lastUpstream: string | null = null;
  private _next: UpstreamLink | null = null;
  private _leaving: UpstreamLink[] | null = null;
  /** The brokers of the zone being dialled, in try order. */
  private readonly dial = new DialPlan();
  readonly session = new SessionState<UpstreamLink>();
  /** Frames the client sent after CONNECT, before the CONNACK (§3.1.4 allows it). */
  private early: Buffer[] | null = null;
  private earlyBytes = 0;
  private _clientPause = 0;
  private brokerPause = 0;
  private packetsIn = 0;
  private packetsOut = 0;
  private _connackCode = 0;
  private _moving = false;
  /** Movable: set by the scheduler while queued. */
  moveQueued = false;
  /** Movable: due time set by the scheduler. */
  moveDue = 0;
  private _moveCause: MoveCause = 'rebalance';
  /** The batch of moves this connection's move belongs to (move-batch.ts), and whether it waits for it. */
  private _batch: MoveBatch<MqttConnection> | null = null;
  /** Its new session was ready (told to the batch); it is held back until the batch is. */
  private batchReady = false;
  private batchWaiting = false;
  /**
   * Broker -> client QoS 1/2 deliveries the client may have unacknowledged: the inflight window,
   * and for MQTT 5 no more than the client's Receive Maximum (§3.3.4), whichever brokers they
   * come from (an old and a new session deliver at once during a move).
   */
  private window: number;
  /** Deliveries beyond the window, in arrival order, until the client acknowledges some. */
  private held: Held[] | null = null;

  constructor(ctx: ConnectionContext, socket: Socket, protocol: 'mqtt' | 'mqtts') {
    this.ctx = ctx;
    this.socket = socket;
    this.protocol = protocol;
    const limits = ctx.config.limits;
    this.reader = new FrameReader(this, Math.min(limits.maxConnectBytes, limits.maxPacketBytes));
    this.window = limits.inflightWindow;
    this.reader.onlyType = T.CONNECT;
    this.startedAt = ctx.clock;
    this.lastRx = ctx.clock;
    this.connectDeadline = ctx.clock + ctx.config.timeouts.connectTimeoutMs;
    socket.setNoDelay(true);
    // Shared handlers find the connection on the socket: no closures per connection.
    (socket as OwnedSocket)[kConnection] = this;
    socket.on('data', clientData);
    socket.on('error', ignoreError);
    // The client's FIN ends the session at once (MQTT has no half-close): Node's own answer
    // to a FIN, a shutdown() and a wait for it before the close, costs a syscall and a turn
    // of the loop per session, which a reconnect storm pays a hundred thousand times.
    socket.allowHalfOpen = true;
    socket.on('end', clientClose);
    socket.on('close', clientClose);
    socket.on('drain', clientDrain);
    // A listener may hand the socket over paused (after reading a PROXY header).
    socket.resume();
  }

  now(): number {
    return this.ctx.clock;
  }

  get phase(): Phase {
    return this._phase;
  }

  get version(): number {
    return this._version;
  }

  get identity(): Identity | null {
    return this._identity;
  }

  /** Zone the current session lives in. */
  get zone(): string | null {
    return this._zone;
  }

  /** The zone a refused or failed connect was routed to ('' before routing). */
  get targetZone(): string {
    return this.dial.zone;
  }

  get colour(): string | null {
    return this._colour;
  }

  /** Router reason of the last decision (bounded set, metric label). */
  get reason(): string {
    return this._reason;
  }

  get persistent(): boolean {
    return this._persistent;
  }

  get current(): UpstreamLink | null {
    return this._current;
  }

  get next(): UpstreamLink | null {
    return this._next;
  }

  get leaving(): readonly UpstreamLink[] | null {
    return this._leaving;
  }

  get clientPause(): number {
    return this._clientPause;
  }

  /** CONNACK code the client got (0 once relaying). */
  get connackCode(): number {
    return this._connackCode;
  }

  get moving(): boolean {
    return this._moving;
  }

  /** Why this connection is (last) moved: a bounded metric label. */
  get moveCause(): MoveCause {
    return this._moveCause;
  }

  get batch(): MoveBatch<MqttConnection> | null {
    return this._batch;
  }

  get isRelaying(): boolean {
    return this._phase === 'relay';
  }

  get closed(): boolean {
    return this._phase === 'closed';
  }

  /** Address of the broker the session lives at now. */
  get upstream(): string | null {
    return this._current?.address ?? null;
  }

  get subscriptionCount(): number {
    return this.session.subscriptionCount;
  }

  get inflightOut(): number {
    return this.session.outgoingCount;
  }

  get inflightIn(): number {
    return this.session.deliveryCount;
  }

  /* ------------------------------------------------------------------ client side */

  onClientData(chunk: Buffer): void {
    this.lastRx = this.ctx.clock;
    const up = this._current;
    try {
      if (up === null) {
        this.reader.push(chunk);
        upRun.flush();
        return;
      }
      this.reader.push(chunk);
      upRun.flush();
      const now = this._current;
      if (now !== null && now.socket.writableNeedDrain) this.setClientPause(PAUSE_DRAIN, true);
    } catch (err) {
      // Event handlers never throw: a bug or an input the codec chokes on ends this connection only.
      this.internalError(err);
    }
  }

  /** An unexpected exception while handling this connection's bytes. */
  internalError(err: unknown): void {
    this.fail(
      new MqttMalformedPacketError(
        `cannot handle packet: ${err instanceof Error ? err.message : String(err)}`,
        err,
      ),
      'client',
    );
  }

  onClientClose(): void {
    this.teardown('client-closed', null);
  }

  onClientDrain(): void {
    this.setBrokerPause(PAUSE_DRAIN, false);
    this.releaseHeld();
  }

  onFrame(frame: Buffer, headerLength: number): boolean {
    if (this._phase === 'relay') return relayFromClient(this, frame, headerLength);
    if (this._phase === 'connect') return this.onConnect(frame);
    if (this._phase === 'upstream') {
      // Pipelined after CONNECT: hold until the CONNACK (bounded by maxConnectBytes).
      this.earlyBytes += frame.length;
      if (this.earlyBytes > this.ctx.config.limits.maxConnectBytes) {
        this.fail(new MqttProtocolError('too many bytes before CONNACK'), 'client');
        return false;
      }
      (this.early ??= []).push(Buffer.from(frame));
      return true;
    }
    return false;
  }

  onFrameError(error: ZonegateError, head: Buffer): void {
    if (this._phase === 'connect') {
      // Too large or malformed CONNECT: MQTT 5 clients get a CONNACK with the reason (§3.1.4);
      // the level is read from the first bytes when they are there.
      this.refuse(error, head);
      return;
    }
    this.fail(error, 'client');
  }

  private onConnect(frame: Buffer): boolean {
    const c = readConnect(frame);
    if (!('packet' in c)) {
      this.refuse(c, frame);
      return false;
    }
    this._version = c.version;
    this.reader.version = c.version;
    this.reader.onlyType = -1;
    if (this.ctx.atConnectionLimit()) {
      this.refuse(new MqttServerBusyError(this.ctx.config.limits.maxConnections), frame);
      return false;
    }
    const id = identifyMqtt(
      c.packet,
      this.socket,
      this.ctx.config.uid,
      this.ctx.config.uidRegex,
      this.ctx.certUid,
    );
    if (!('uid' in id)) {
      this.refuse(uidRefusalError(id), frame);
      return false;
    }
    this._identity = id;
    const decision = decide(id, 'rzone', this.ctx.holder.current, this.ctx.self, this.ctx.random);
    this._reason = decision.reason;
    if (!decision.ok) {
      this.refuse(new NoLiveZoneError(decision.detail), frame);
      return false;
    }
    this._colour = decision.colour;
    const limits = this.ctx.config.limits;
    const upstream = upstreamConnect(c, frame, limits.inflightWindow, limits.maxPacketBytes);
    if (upstream instanceof ZonegateError) {
      this.refuse(upstream, frame);
      return false;
    }
    this.connectFrame = upstream;
    this._persistent = c.persistent;
    if (c.version === 5) this.window = Math.min(this.window, c.packet.properties?.receiveMaximum ?? 65_535);
    this.keepaliveMs = keepaliveDeadlineMs(c.keepaliveSec);
    this.reader.maxPacketBytes = limits.maxPacketBytes;
    this._phase = 'upstream';
    this.setClientPause(PAUSE_CONNACK, true);
    if (!this.dialZone(this.ctx.holder.current, decision.zone)) {
      this.refuse(new MqttUpstreamUnavailableError(`zone ${decision.zone} lists no mqtt upstream`), frame);
      return false;
    }
    return true;
  }

  /** Refuse a CONNECT: CONNACK with the reason where the protocol has one, then close. */
  private refuse(error: ZonegateError, head: Buffer): void {
    const peeked = this._phase === 'connect' ? peekConnectLevel(head) : -1;
    const level = peeked === -1 ? this._version : peeked;
    // Counted and logged as the client received it: a 3.1.1 return code, or -1 (closed, no CONNACK).
    this._connackCode = refusalCode(error.mqttReasonCode, level);
    this.ctx.stats.refuse(this._connackCode);
    if (error instanceof MqttMalformedPacketError) this.ctx.stats.malformedFromClients++;
    this.ctx.logger.warn(
      { code: error.code, reasonCode: error.mqttReasonCode, protocol: this.protocol, reason: this._reason },
      `mqtt connect refused: ${error.message}`,
    );
    this.teardown('refused', refusalConnack(error.mqttReasonCode, level));
  }

  /* ------------------------------------------------------------------ relay output and backpressure */

  toBroker(link: UpstreamLink, frame: Buffer): void {
    upRun.add(frame, link.socket);
  }

  /** A packet the gateway writes to a broker itself: after everything relayed before it. */
  linkWrite(link: UpstreamLink, frame: Buffer): void {
    upRun.flush();
    link.write(frame);
  }

  /** LinkOwner: a broker chunk is done; send what it relayed to the client. */
  onLinkChunk(): void {
    downRun.flush();
    if (this.socket.writableNeedDrain) this.setBrokerPause(PAUSE_DRAIN, true);
  }

  toClient(frame: Buffer): void {
    this.packetsOut++;
    const t = (frame[0] as number) >> 4;
    this.ctx.stats.packetsOut[t] = (this.ctx.stats.packetsOut[t] as number) + 1;
    downRun.add(frame, this.socket);
  }

  setClientPause(bit: number, on: boolean): void {
    const before = this._clientPause;
    this._clientPause = on ? before | bit : before & ~bit;
    if (before === 0 && this._clientPause !== 0) this.socket.pause();
    else if (before !== 0 && this._clientPause === 0 && this._phase !== 'closed') this.socket.resume();
  }

  setBrokerPause(bit: number, on: boolean): void {
    const before = this.brokerPause;
    this.brokerPause = on ? before | bit : before & ~bit;
    if ((before === 0) === (this.brokerPause === 0)) return;
    for (const l of this.links()) this.applyLinkPause(l);
  }

  /**
   * The client's socket backpressure pauses its session's broker, not one it is moving to
   * (that one's CONNACK and SUBACKs must be read for a slow client to move) nor an old one
   * being drained (its UNSUBACK must be read, and its broker dying noticed: a paused socket
   * sees no end). A full window pauses no broker: what comes beyond it is held, and brokers
   * keep their own in-flight bound (MQTT 5: the Receive Maximum, no larger than the window),
   * so a QoS 2 PUBREL that frees the window is always read. Only twice the window held pauses
   * every link (PAUSE_WINDOW).
   */
  applyLinkPause(l: UpstreamLink): void {
    const pause =
      l.opening || l.state === 'draining' ? (this.brokerPause & PAUSE_WINDOW) !== 0 : this.brokerPause !== 0;
    if (pause) l.socket.pause();
    else l.socket.resume();
  }

  /** A PUBLISH the client cannot take now: keep it, in order, until it can. */
  hold(link: UpstreamLink, frame: Buffer, at: number): void {
    const held = (this.held ??= []);
    held.push({ link, frame: Buffer.from(frame), at });
    link.held++;
    if (held.length >= 2 * this.window) this.setBrokerPause(PAUSE_WINDOW, true);
  }

  /** Whether a PUBLISH of `qos` from a broker must wait (window or socket full, or others wait before it). */
  mustHold(qos: number): boolean {
    return (
      this.held !== null ||
      (qos > 0 && this.session.deliveryCount >= this.window) ||
      this.socket.writableNeedDrain
    );
  }

  /** The client acknowledged a delivery or its socket drained: pass on what waits, in order. */
  releaseHeld(): void {
    const held = this.held;
    if (held === null) return;
    let n = 0;
    while (n < held.length && this._phase === 'relay') {
      const h = held[n] as Held;
      if ((h.at >= 0 && this.session.deliveryCount >= this.window) || this.socket.writableNeedDrain) break;
      n++;
      h.link.held--;
      deliverPublish(this, h.link, h.frame, h.at);
      downRun.flush();
    }
    if (n === 0) return;
    held.splice(0, n);
    if (held.length === 0) this.held = null;
    if (held.length < 2 * this.window) this.setBrokerPause(PAUSE_WINDOW, false);
  }

  /** Out of its move batch (move not needed, failed, or the connection ends). */
  leaveBatch(): void {
    const b = this._batch;
    if (b === null) return;
    this._batch = null;
    b.drop(this, this.batchReady);
    this.batchReady = false;
    this.batchWaiting = false;
  }

  /* ------------------------------------------------------------------ brokers (broker-dial.ts) */

  /** Plan the zone's brokers and dial the first. False when the zone lists none. */
  private dialZone(map: CompiledZoneMap, zoneName: string): boolean {
    const zi = map.zoneIndex.get(zoneName);
    const listed = zi === undefined ? [] : (map.zones[zi]?.upstreams.mqtt ?? []);
    const uid = this._identity?.uid ?? null;
    if (!this.dial.start(listed, zoneName, uid, this.ctx.random, this.ctx.brokers)) return false;
    return this.dialNextBroker();
  }

  dialNextBroker(): boolean {
    if (this.dial.exhausted) return false;
    const t = this.ctx.config.timeouts;
    const link = new UpstreamLink(
      this,
      this.dial.zone,
      this.dial.next(),
      this.ctx.config.limits.maxPacketBytes,
      this._version,
      this.ctx.clock,
      this.ctx.clock + t.upstreamConnectTimeoutMs,
      this.ctx.dialGate,
    );
    const connect = this.connectFrame as Buffer;
    link.write(this._phase === 'relay' ? moveConnect(connect, this._persistent) : connect);
    // Not paused by the client's backpressure: its CONNACK and SUBACKs must be read for a
    // client with a full window to move (applyLinkPause).
    this._next = link;
    return true;
  }

  /**
   * A connect to `link`'s broker failed: passive ejection (src/upstream). Told when it takes the
   * broker out, not for each client that still tries it while every broker of its zone is out.
   */
  private brokerFailed(link: UpstreamLink, why: string): void {
    const broker = this.ctx.brokers.get(link.address);
    const now = Date.now();
    const wasIn = broker.available(now);
    if (broker.failed(now) && wasIn) {
      this.ctx.brokerEjected(link.address, link.zone, why, broker.ejectedUntil - now);
    }
  }

  /* ------------------------------------------------------------------ state changes asked by the relays and moves */

  countFromClient(type: number): void {
    this.packetsIn++;
    const counts = this.ctx.stats.packetsIn;
    counts[type] = (counts[type] as number) + 1;
  }

  setMoveCause(cause: MoveCause): void {
    this._moveCause = cause;
  }

  beginMove(d: RoutedDecision, map: CompiledZoneMap): boolean {
    this._moving = true;
    this._reason = d.reason;
    this._colour = d.colour;
    this.ctx.moveStarted(this);
    return this.dialZone(map, d.zone);
  }

  batchPrepared(): boolean {
    const batch = this._batch;
    if (batch === null) return true;
    if (!this.batchReady) {
      this.batchReady = true;
      if (!batch.ready(this, this._current !== null)) {
        this.batchWaiting = true;
        return false;
      }
      return true;
    }
    // Re-synced while waiting (the client changed its subscriptions): still waiting.
    return !this.batchWaiting;
  }

  /** Join the batch of moves a map change starts (server.ts). */
  joinBatch(batch: MoveBatch<MqttConnection>): void {
    batch.join();
    this._batch = batch;
  }

  /** The batch released this waiting member, or its own hold ran out: switch if still ready. */
  switchWaiting(): void {
    this.batchWaiting = false;
    migration.switchWaiting(this);
  }

  adoptSession(link: UpstreamLink): void {
    const batch = this._batch;
    if (batch !== null) batch.switched(this);
    this._batch = null;
    this.batchReady = false;
    this.batchWaiting = false;
    this._next = null;
    this._current = link;
    this.lastUpstream = link.address;
    this._zone = link.zone;
    this._moving = false;
  }

  abandonMove(): void {
    if (this._next !== null) this._next.destroy();
    this._next = null;
    this._moving = false;
    this.leaveBatch();
  }

  dropCurrent(): void {
    this._current = null;
  }

  addLeaving(link: UpstreamLink): void {
    (this._leaving ??= []).push(link);
  }

  removeLeaving(link: UpstreamLink): boolean {
    const leaving = this._leaving;
    if (leaving === null) return false;
    const i = leaving.indexOf(link);
    if (i >= 0) leaving.splice(i, 1);
    if (leaving.length === 0) this._leaving = null;
    return true;
  }

  moveEnded(result: 'ok' | 'failed' | 'disconnected', reason: string): void {
    this.ctx.moveFinished(this, result, reason);
  }

  drainEnded(link: UpstreamLink, end: DrainEnd, durationMs: number): void {
    this.ctx.drainEnded(this, link, end, durationMs);
  }

  requeue(delayMs: number): void {
    this.ctx.scheduler.enqueue(this, delayMs);
  }

  private links(): UpstreamLink[] {
    const out: UpstreamLink[] = [];
    if (this._current !== null) out.push(this._current);
    if (this._next !== null) out.push(this._next);
    if (this._leaving !== null) out.push(...this._leaving);
    return out;
  }

  /* ------------------------------------------------------------------ broker side */

  /** LinkOwner: a frame from one of this client's brokers (broker-relay.ts). */
  onLinkFrame(link: UpstreamLink, frame: Buffer, hl: number): boolean {
    return relayFromBroker(this, link, frame, hl);
  }

  onBrokerConnack(link: UpstreamLink, frame: Buffer): boolean {
    const limits = this.ctx.config.limits;
    const ack = readBrokerConnack(frame, this._version, limits.inflightWindow, limits.maxPacketBytes);
    if (ack === null)
      return this.linkBroken(link, new MqttMalformedPacketError('malformed CONNACK from broker'));
    if (ack.code !== 0 && isServerFailure(ack.code, this._version)) {
      // The broker, not the client, is the problem: eject it and try the zone's next broker.
      this.brokerFailed(link, `CONNACK 0x${ack.code.toString(16)}`);
      if (!this.dial.exhausted) {
        link.destroy();
        this._next = null;
        this.dialNextBroker();
        return false;
      }
    } else {
      this.ctx.brokers.get(link.address).succeeded();
    }
    if (this._phase === 'upstream') {
      this._connackCode = ack.code;
      if (ack.code !== 0) {
        // The broker refused (bad credentials, ...): the client hears the broker's answer.
        this.ctx.stats.refuse(ack.code);
        this.teardown('broker-refused', ack.toClient);
        return false;
      }
      if (ack.serverKeepAliveSec !== undefined)
        this.keepaliveMs = keepaliveDeadlineMs(ack.serverKeepAliveSec);
      if (ack.assignedClientId !== undefined)
        this.connectFrame = withClientId(this.connectFrame as Buffer, ack.assignedClientId);
      this._next = null;
      link.state = 'current';
      link.deadline = 0;
      this._current = link;
      this.lastUpstream = link.address;
      this._zone = link.zone;
      this._phase = 'relay';
      this.toClient(ack.toClient);
      this.ctx.connectionUp(this);
      const early = this.early;
      this.early = null;
      if (early !== null) {
        for (const f of early) {
          if (!relayFromClient(this, f, headerLengthOf(f))) break;
        }
        upRun.flush();
      }
      if (this._phase === 'relay') {
        this.setClientPause(PAUSE_CONNACK, false);
        // The map may have changed while the session was being opened.
        const again = this.ctx.draining ? 1 : this.reconsider(this.ctx.holder.current);
        if (again >= 0) this.ctx.scheduler.enqueue(this, again);
      }
      return true;
    }
    // A move: the new session is open.
    return migration.sessionOpened(this, link, ack.code);
  }

  onLinkFailure(link: UpstreamLink, error: ZonegateError): void {
    this.linkBroken(link, error);
  }

  onLinkClose(link: UpstreamLink): void {
    if (this._phase === 'closed') return;
    if (link === this._current) {
      migration.brokerLost(
        this,
        link,
        new MqttUpstreamUnavailableError(`broker ${link.address} closed the connection`),
      );
    } else if (link === this._next) {
      this.linkBroken(
        link,
        new MqttUpstreamUnavailableError(`broker ${link.address} closed the connection`),
        'broker-disconnect',
      );
    } else {
      migration.oldLinkLost(this, link);
    }
  }

  onLinkDrain(link: UpstreamLink): void {
    if (link === this._current) this.setClientPause(PAUSE_DRAIN, false);
  }

  /** A link misbehaved or failed. Returns false (stop reading its bytes). */
  linkBroken(link: UpstreamLink, error: ZonegateError, failure: MoveFailure = 'unreachable'): boolean {
    if (this._phase === 'closed') return false;
    if (error instanceof MqttMalformedPacketError || error instanceof MqttProtocolError) {
      this.ctx.stats.malformedFromBrokers++;
    }
    // A broker that refused the TCP connect, closed it or timed out before its CONNACK.
    if (link.state === 'connecting') this.brokerFailed(link, error.message);
    if (link.state === 'connecting' && this._phase === 'upstream') {
      link.destroy();
      this._next = null;
      if (this.dialNextBroker()) return false;
      this.refuse(
        new MqttUpstreamUnavailableError(`no broker of zone ${this.targetZone} answered`, error),
        Buffer.alloc(0),
      );
      return false;
    }
    if (link === this._next) {
      const wasConnecting = link.state === 'connecting';
      link.destroy();
      this._next = null;
      if (wasConnecting && this.dialNextBroker()) return false;
      migration.moveFailed(
        this,
        null,
        new MqttMigrationFailedError(`move to zone ${link.zone} failed: ${error.message}`, error),
        failure,
      );
      return false;
    }
    if (link === this._current) {
      if (error instanceof MqttUpstreamUnavailableError) {
        migration.brokerLost(this, link, error);
      } else {
        this.fail(error, 'broker');
      }
      return false;
    }
    migration.oldLinkLost(this, link);
    link.destroy();
    return false;
  }

  /* ------------------------------------------------------------------ moves (migration.ts) */

  /**
   * Re-decide after a zone map change. Returns the delay (ms) after which to move, or -1 when
   * this connection stays where it is.
   */
  reconsider(next: CompiledZoneMap): number {
    return migration.reconsider(this, next);
  }

  /** Movable: called by the scheduler when a token is available. */
  runMove(): boolean {
    return migration.runMove(this);
  }

  /* ------------------------------------------------------------------ timers and teardown */

  /** Called by the server's sweep with the coarse clock. */
  sweep(now: number): void {
    if (this._phase === 'connect' || this._phase === 'upstream') {
      if (now > this.connectDeadline && this._phase === 'connect') {
        this.refuse(new MqttConnectTimeoutError(this.ctx.config.timeouts.connectTimeoutMs), Buffer.alloc(0));
        return;
      }
    }
    const next = this._next;
    if (next !== null && next.deadline > 0 && now > next.deadline) {
      if (this.batchWaiting) {
        // Ready, but the rest of its batch is not: it switches alone rather than fail.
        this.ctx.stats.batchHoldsExpired++;
        this.switchWaiting();
      } else {
        this.linkBroken(
          next,
          new MqttUpstreamUnavailableError(`broker ${next.address} did not answer in time`),
          'timeout',
        );
      }
      if (this._phase === 'closed') return;
    }
    if (this._leaving !== null) {
      for (const l of [...this._leaving]) migration.drainStep(this, l, now);
      if (this._phase === 'closed') return;
    }
    if (this._phase !== 'relay') return;
    if (this.keepaliveMs > 0 && now - this.lastRx > this.keepaliveMs) {
      this.fail(new MqttKeepAliveTimeoutError('client', now - this.lastRx), 'client');
      return;
    }
    const up = this._current;
    if (up === null) return;
    const t = this.ctx.config.timeouts;
    if (up.pingSentAt > 0) {
      if (now - up.pingSentAt > t.upstreamResponseTimeoutMs) {
        migration.brokerLost(this, up, new MqttKeepAliveTimeoutError('broker', now - up.lastRx));
      }
    } else if (now - up.lastRx > t.upstreamPingIntervalMs) {
      up.ownPings++;
      up.pingSentAt = now;
      this.linkWrite(up, PINGREQ_FRAME);
    }
  }

  /** Close after a protocol violation or bad input from one side (metric + one log line). */
  fail(error: ZonegateError, side: 'client' | 'broker'): false {
    if (this._phase === 'closed') return false;
    if (error instanceof MqttMalformedPacketError || error instanceof MqttProtocolError) {
      if (side === 'client') this.ctx.stats.malformedFromClients++;
      else this.ctx.stats.malformedFromBrokers++;
    }
    this.ctx.logger.warn(
      { code: error.code, reasonCode: error.mqttReasonCode, side, zone: this._zone, protocol: this.protocol },
      `mqtt connection closed: ${error.message}`,
    );
    const code = DISCONNECT_CODES.has(error.mqttReasonCode) ? error.mqttReasonCode : 0x80;
    this.teardown(
      `${side}-error`,
      this._version === 5 && this._phase === 'relay' ? serverDisconnect(code) : null,
    );
    return false;
  }

  /** Gateway shutdown: MQTT 5 clients hear 0x8B "Server shutting down" (§3.14.2.1). */
  shutdown(): void {
    this.teardown('shutdown', this._version === 5 && this._phase === 'relay' ? serverDisconnect(0x8b) : null);
  }

  /** The one place a connection ends: last words to the client, then every socket closed. */
  teardown(end: string, lastWords: Buffer | null): void {
    if (this._phase === 'closed') return;
    const wasRelaying = this._phase === 'relay';
    const upstream = this._current?.address ?? this.lastUpstream;
    this._phase = 'closed';
    // What was relayed before the end still goes out, in order, before the last words.
    upRun.flush();
    downRun.flush();
    this.moveQueued = false;
    this.leaveBatch();
    if (this._moving) {
      this._moving = false;
      this.ctx.moveFinished(this, 'failed', 'client-closed');
    }
    if (this._leaving !== null) {
      for (const l of this._leaving)
        migration.endDrain(this, l, end === 'shutdown' ? 'shutdown' : 'client-closed');
    }
    const linger = this.ctx.config.timeouts.migrationLingerMs;
    for (const l of this.links()) {
      if (l === this._current) {
        // After the client's DISCONNECT, let it reach the broker (the Will is discarded, §3.14.4);
        // any other end drops the connection so the broker publishes the Will (§3.1.2.5).
        if (end === 'client-disconnect') {
          l.state = 'closed';
          l.socket.end();
        } else {
          l.destroy();
        }
      } else if (l.state !== 'closed') {
        // Another session of this client (the one it was moving to, or an old one): the Will
        // belongs to the current one only, so this one is ended normally (§3.14.4), even
        // before its CONNACK (packets may follow CONNECT at once, §3.1.4).
        if (l.state !== 'leaving') l.write(PLAIN_DISCONNECT);
        l.state = 'closed';
        l.socket.end();
        setTimeout(destroySocket, linger, l.socket).unref();
      }
    }
    this.held = null;
    this._current = null;
    this._next = null;
    this._leaving = null;
    this.early = null;
    if (lastWords !== null && !this.socket.destroyed) {
      this.socket.end(lastWords);
      // A client that does not read must not keep the socket: hard close shortly after.
      setTimeout(destroySocket, 1000, this.socket).unref();
    } else {
      this.socket.destroy();
    }
    const sessionEnd = this.ctx.sessionEnd;
    if (sessionEnd?.active === true)
      sessionEnd.publish({
        protocol: this.protocol,
        // A refusal after routing (no broker of the zone answered) is logged with that zone.
        zone: this._zone ?? (this.targetZone === '' ? null : this.targetZone),
        colour: this._colour,
        reason: this._reason,
        upstream,
        result: wasRelaying ? 0 : this._connackCode,
        durationMs: this.ctx.clock - this.startedAt,
        packetsIn: this.packetsIn,
        packetsOut: this.packetsOut,
        end,
      });
    this.ctx.connectionClosed(this);
  }
}

const kConnection = Symbol('zonegate.mqttConnection');
type OwnedSocket = Socket & { [kConnection]?: MqttConnection };

function clientData(this: Socket, chunk: Buffer): void {
  (this as OwnedSocket)[kConnection]?.onClientData(chunk);
}

function clientClose(this: Socket): void {
  (this as OwnedSocket)[kConnection]?.onClientClose();
}

function clientDrain(this: Socket): void {
  (this as OwnedSocket)[kConnection]?.onClientDrain();
}

/** 'close' follows every 'error'; teardown happens there. */
function ignoreError(): void {}

function destroySocket(socket: Socket): void {
  socket.destroy();
}
