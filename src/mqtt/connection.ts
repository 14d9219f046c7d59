/**
 * One client connection: bounded CONNECT, routing to its zone's broker, the relay, and moving
 * the session to another broker under the client (transparent migration).
 *
 * The state kept to move a client lives in session-state.ts. A move is make-before-break: the
 * new session is opened and subscribed while the old one still delivers; at the new broker's
 * last SUBACK the client's packets switch over and the unacknowledged ones are resent (DUP
 * set, §4.4). The gateway's own SUBSCRIBE/UNSUBSCRIBE reach the new broker before any client
 * packet and are acknowledged before the switch, so they never share the client's packet id
 * space. The old broker gets DISCONNECT and may deliver what it had in flight until it closes
 * (its acks to client packets are dropped: those packets were resent and the new broker
 * acknowledges them).
 */
import type { Socket } from 'node:net';
import { NoLiveZoneError, ZonegateError } from '../core/errors.js';
import { decide, fnv1a32, type Identity, type Self } from '../router/index.js';
import type { CompiledZoneMap, ZoneMapHolder } from '../zonemap/index.js';
import { decodePacket } from './codec.js';
import { readBrokerConnack, refusalConnack } from './connack.js';
import { moveConnect, peekConnectLevel, readConnect, upstreamConnect, withClientId } from './connect.js';
import { leaveDisconnect, serverDisconnect } from './disconnect.js';
import {
  MqttConnectTimeoutError,
  MqttKeepAliveTimeoutError,
  MqttMalformedPacketError,
  MqttMigrationFailedError,
  MqttProtocolError,
  MqttServerBusyError,
  MqttTopicInvalidError,
  MqttUpstreamUnavailableError,
} from './errors.js';
import { FrameReader, type FrameSink } from './frame-reader.js';
import { identify, type CertUidReader } from './identity.js';
import type { Movable, MoveScheduler } from './move-scheduler.js';
import type { ResolvedMqttConfig } from './options.js';
import * as T from './packet-type.js';
import { keepaliveDeadlineMs, PINGREQ_FRAME, PINGRESP_FRAME } from './pingreq.js';
import { RunWriter } from './run-writer.js';
import { ackFrame, ackId, publishIdOffset, publishQos, topicEnd, topicStart } from './publish.js';
import type { MqttStats } from './stats.js';
import { SessionState, type Delivery } from './session-state.js';
import { refusingSuback } from './subscribe.js';
import { checkTopicFilter, checkTopicName } from './topic.js';
import { UpstreamLink, type LinkOwner } from './upstream-link.js';

/** Logging surface this stage needs; a pino Logger fits. */
export interface MqttLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** One line per MQTT session (src/core/logger.ts AccessLog fits). */
export interface MqttAccessLog {
  mqtt(entry: {
    protocol: string;
    zone: string | null;
    colour: string | null;
    reason: string;
    upstream: string | null;
    result: number;
    durationMs: number;
    packetsIn: number;
    packetsOut: number;
    end: string;
  }): void;
}

/** What a connection needs from its server. */
export interface ConnectionContext {
  readonly config: ResolvedMqttConfig;
  readonly holder: ZoneMapHolder;
  readonly self: Self;
  readonly random: () => number;
  readonly stats: MqttStats;
  readonly logger: MqttLogger;
  readonly accessLog: MqttAccessLog | undefined;
  readonly scheduler: MoveScheduler;
  readonly certUid: CertUidReader | undefined;
  /** Coarse clock (ms), advanced by the server's sweep. */
  readonly clock: number;
  atConnectionLimit(): boolean;
  /** The gateway is draining: every move is a "reconnect elsewhere". */
  readonly draining: boolean;
  connectionClosed(conn: MqttConnection): void;
  connectionUp(conn: MqttConnection): void;
  moveFinished(conn: MqttConnection, result: 'ok' | 'failed' | 'disconnected'): void;
}

type Phase = 'connect' | 'upstream' | 'relay' | 'closed';

const PAUSE_DRAIN = 1;
const PAUSE_WINDOW = 2;
const PAUSE_CONNACK = 4;

/** Reason codes an MQTT 5 server may put in DISCONNECT (§3.14.2.1). */
const DISCONNECT_CODES = new Set([
  0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
  0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);

export class MqttConnection implements FrameSink, LinkOwner, Movable {
  readonly socket: Socket;
  readonly protocol: 'mqtt' | 'mqtts';
  private readonly ctx: ConnectionContext;
  private readonly reader: FrameReader;
  private phase: Phase = 'connect';
  private readonly startedAt: number;
  private readonly connectDeadline: number;
  version = 4;
  identity: Identity | null = null;
  /** Zone the current session lives in. */
  zone: string | null = null;
  colour: string | null = null;
  /** Router reason of the last decision (bounded set, metric label). */
  reason = '';
  private connectFrame: Buffer | null = null;
  private persistent = false;
  private keepaliveMs = 0;
  private lastRx: number;
  private current: UpstreamLink | null = null;
  /** Address of the last broker this session lived at (for the access log). */
  private lastUpstream: string | null = null;
  private next: UpstreamLink | null = null;
  private leaving: UpstreamLink[] | null = null;
  /** Brokers of the target zone, in try order, and how many were tried. */
  private candidates: readonly string[] = NO_BROKERS;
  private firstCandidate = 0;
  private tried = 0;
  private targetZone = '';
  private readonly session = new SessionState<UpstreamLink>();
  /** Frames the client sent after CONNECT, before the CONNACK (§3.1.4 allows it). */
  private early: Buffer[] | null = null;
  private earlyBytes = 0;
  private clientPause = 0;
  private brokerPause = 0;
  private packetsIn = 0;
  private packetsOut = 0;
  /** CONNACK code the client got (0 once relaying). */
  connackCode = 0;
  private moving = false;
  moveQueued = false;
  moveDue = 0;
  /** Why this connection is (last) moved: a bounded metric label. */
  moveCause: 'down' | 'drain' | 'rebalance' | 'shutdown' = 'rebalance';

  constructor(ctx: ConnectionContext, socket: Socket, protocol: 'mqtt' | 'mqtts') {
    this.ctx = ctx;
    this.socket = socket;
    this.protocol = protocol;
    const limits = ctx.config.limits;
    this.reader = new FrameReader(this, Math.min(limits.maxConnectBytes, limits.maxPacketBytes));
    this.reader.onlyType = T.CONNECT;
    this.startedAt = ctx.clock;
    this.lastRx = ctx.clock;
    this.connectDeadline = ctx.clock + ctx.config.timeouts.connectTimeoutMs;
    socket.setNoDelay(true);
    // Shared handlers find the connection on the socket: no closures per connection.
    (socket as OwnedSocket)[kConnection] = this;
    socket.on('data', clientData);
    socket.on('error', ignoreError);
    socket.on('close', clientClose);
    socket.on('drain', clientDrain);
    // A listener may hand the socket over paused (after reading a PROXY header).
    socket.resume();
  }

  now(): number {
    return this.ctx.clock;
  }

  get isRelaying(): boolean {
    return this.phase === 'relay';
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** Address of the broker the session lives at now. */
  get upstream(): string | null {
    return this.current?.address ?? null;
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
    const up = this.current;
    try {
      if (up === null) {
        this.reader.push(chunk);
        upRun.flush();
        return;
      }
      this.reader.push(chunk);
      upRun.flush();
      const now = this.current;
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
  }

  onFrame(frame: Buffer, headerLength: number): boolean {
    if (this.phase === 'relay') return this.relayFromClient(frame, headerLength);
    if (this.phase === 'connect') return this.onConnect(frame);
    if (this.phase === 'upstream') {
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
    if (this.phase === 'connect') {
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
    this.version = c.version;
    this.reader.version = c.version;
    this.reader.onlyType = -1;
    if (this.ctx.atConnectionLimit()) {
      this.refuse(new MqttServerBusyError(this.ctx.config.limits.maxConnections), frame);
      return false;
    }
    const id = identify(c, this.socket, this.ctx.config.uid, this.ctx.config.uidRegex, this.ctx.certUid);
    if (!('uid' in id)) {
      this.refuse(id, frame);
      return false;
    }
    this.identity = id;
    const decision = decide(id, 'rzone', this.ctx.holder.current, this.ctx.self, this.ctx.random);
    this.reason = decision.reason;
    if (!decision.ok) {
      this.refuse(new NoLiveZoneError(decision.detail), frame);
      return false;
    }
    this.colour = decision.colour;
    const limits = this.ctx.config.limits;
    const upstream = upstreamConnect(c, frame, limits.inflightWindow, limits.maxPacketBytes);
    if (upstream instanceof ZonegateError) {
      this.refuse(upstream, frame);
      return false;
    }
    this.connectFrame = upstream;
    this.persistent = c.persistent;
    this.keepaliveMs = keepaliveDeadlineMs(c.keepaliveSec);
    this.reader.maxPacketBytes = limits.maxPacketBytes;
    this.phase = 'upstream';
    this.setClientPause(PAUSE_CONNACK, true);
    if (!this.openLink(this.ctx.holder.current, decision.zone)) {
      this.refuse(new MqttUpstreamUnavailableError(`zone ${decision.zone} lists no mqtt upstream`), frame);
      return false;
    }
    return true;
  }

  /** Refuse a CONNECT: CONNACK with the reason where the protocol has one, then close. */
  private refuse(error: ZonegateError, head: Buffer): void {
    const peeked = this.phase === 'connect' ? peekConnectLevel(head) : -1;
    const level = peeked === -1 ? this.version : peeked;
    this.ctx.stats.refuse(error.mqttReasonCode);
    this.connackCode = error.mqttReasonCode;
    if (error instanceof MqttMalformedPacketError) this.ctx.stats.malformedFromClients++;
    this.ctx.logger.warn(
      { code: error.code, reasonCode: error.mqttReasonCode, protocol: this.protocol, reason: this.reason },
      `mqtt connect refused: ${error.message}`,
    );
    this.teardown('refused', refusalConnack(error.mqttReasonCode, level));
  }

  private relayFromClient(frame: Buffer, hl: number): boolean {
    const first = frame[0] as number;
    const type = first >> 4;
    this.packetsIn++;
    this.ctx.stats.packetsIn[type] = (this.ctx.stats.packetsIn[type] as number) + 1;
    const up = this.current;
    switch (type) {
      case T.PUBLISH: {
        const te = topicEnd(frame, hl);
        if (te < 0)
          return this.fail(new MqttMalformedPacketError('PUBLISH shorter than its topic'), 'client');
        const limits = this.ctx.config.limits;
        const bad = checkTopicName(frame, topicStart(hl), te, limits.maxTopicBytes, limits.maxTopicLevels);
        if (bad !== null) return this.fail(new MqttTopicInvalidError(bad), 'client');
        const qos = publishQos(first);
        if (qos > 0) {
          const at = publishIdOffset(frame, te);
          const id = at < 0 ? 0 : frame.readUInt16BE(at);
          // §2.2.1: QoS 1/2 PUBLISH needs a non-zero packet identifier.
          if (id === 0) return this.fail(new MqttMalformedPacketError('PUBLISH without packet id'), 'client');
          this.session.keepPublish(id, frame, qos);
          if (this.session.outgoingCount >= limits.inflightWindow) this.setClientPause(PAUSE_WINDOW, true);
        }
        if (up !== null) this.toBroker(up, frame);
        return true;
      }
      case T.PUBACK:
      case T.PUBCOMP: {
        // Client acknowledges a broker -> client delivery: translate the id back.
        const d = this.session.delivered(ackId(frame, hl));
        if (d === undefined) return true;
        if (d.link.live) {
          frame.writeUInt16BE(d.brokerId, hl);
          this.toBroker(d.link, frame);
        }
        if (
          this.brokerPause & PAUSE_WINDOW &&
          this.session.deliveryCount < this.ctx.config.limits.inflightWindow
        ) {
          this.setBrokerPause(PAUSE_WINDOW, false);
        }
        return true;
      }
      case T.PUBREC: {
        const id = ackId(frame, hl);
        const d = this.session.delivery(id);
        if (d === undefined) return true;
        if (d.link.live) {
          d.state = 1;
          frame.writeUInt16BE(d.brokerId, hl);
          this.toBroker(d.link, frame);
        } else {
          // The broker that sent it is gone: finish the QoS 2 flow towards the client (§4.3.3).
          d.state = 2;
          this.toClient(ackFrame(T.PUBREL, id));
        }
        return true;
      }
      case T.PUBREL: {
        this.session.released(ackId(frame, hl));
        if (up !== null) this.toBroker(up, frame);
        return true;
      }
      case T.SUBSCRIBE:
        return this.clientSubscribe(frame);
      case T.UNSUBSCRIBE:
        return this.clientUnsubscribe(frame);
      case T.PINGREQ:
        if (up !== null) this.toBroker(up, frame);
        else this.toClient(PINGRESP_FRAME);
        return true;
      case T.DISCONNECT:
        if (up !== null) this.linkWrite(up, frame);
        this.teardown('client-disconnect', null);
        return false;
      default:
        // CONNECT twice (§3.1.0-2), AUTH, or a server-only packet from a client.
        return this.fail(
          new MqttProtocolError(`unexpected ${T.PACKET_NAMES[type] ?? type} from client`),
          'client',
        );
    }
  }

  private clientSubscribe(frame: Buffer): boolean {
    const r = decodePacket(frame, this.version);
    if (!r.ok || r.packet.cmd !== 'subscribe') {
      return this.fail(
        new MqttMalformedPacketError(`malformed SUBSCRIBE: ${r.ok ? 'wrong type' : r.error.message}`),
        'client',
      );
    }
    const sub = r.packet;
    const limits = this.ctx.config.limits;
    for (const s of sub.subscriptions) {
      const bad = checkTopicFilter(s.topic, limits.maxTopicBytes, limits.maxTopicLevels);
      if (bad !== null) return this.fail(new MqttTopicInvalidError(bad, true), 'client');
    }
    const id = sub.messageId ?? 0;
    if (this.session.subscriptionCount + sub.subscriptions.length > limits.maxSubscriptions) {
      this.toClient(refusingSuback(sub, this.version));
      return true;
    }
    this.session.keepSubscribe(id, frame, sub);
    if (this.current !== null) this.toBroker(this.current, frame);
    return true;
  }

  private clientUnsubscribe(frame: Buffer): boolean {
    const r = decodePacket(frame, this.version);
    if (!r.ok || r.packet.cmd !== 'unsubscribe') {
      return this.fail(
        new MqttMalformedPacketError(`malformed UNSUBSCRIBE: ${r.ok ? 'wrong type' : r.error.message}`),
        'client',
      );
    }
    this.session.keepSubscribe(r.packet.messageId ?? 0, frame, r.packet);
    if (this.current !== null) this.toBroker(this.current, frame);
    return true;
  }

  private toBroker(link: UpstreamLink, frame: Buffer): void {
    upRun.add(frame, link.socket);
  }

  /** A packet the gateway writes to a broker itself: after everything relayed before it. */
  private linkWrite(link: UpstreamLink, frame: Buffer): void {
    upRun.flush();
    link.write(frame);
  }

  /** LinkOwner: a broker chunk is done; send what it relayed to the client. */
  onLinkChunk(): void {
    downRun.flush();
    if (this.socket.writableNeedDrain) this.setBrokerPause(PAUSE_DRAIN, true);
  }

  private toClient(frame: Buffer): void {
    this.packetsOut++;
    const t = (frame[0] as number) >> 4;
    this.ctx.stats.packetsOut[t] = (this.ctx.stats.packetsOut[t] as number) + 1;
    downRun.add(frame, this.socket);
  }

  private setClientPause(bit: number, on: boolean): void {
    const before = this.clientPause;
    this.clientPause = on ? before | bit : before & ~bit;
    if (before === 0 && this.clientPause !== 0) this.socket.pause();
    else if (before !== 0 && this.clientPause === 0 && this.phase !== 'closed') this.socket.resume();
  }

  private setBrokerPause(bit: number, on: boolean): void {
    const before = this.brokerPause;
    this.brokerPause = on ? before | bit : before & ~bit;
    if ((before === 0) === (this.brokerPause === 0)) return;
    const pause = this.brokerPause !== 0;
    for (const l of this.links()) {
      if (pause) l.socket.pause();
      else l.socket.resume();
    }
  }

  private links(): UpstreamLink[] {
    const out: UpstreamLink[] = [];
    if (this.current !== null) out.push(this.current);
    if (this.next !== null) out.push(this.next);
    if (this.leaving !== null) out.push(...this.leaving);
    return out;
  }

  /* ------------------------------------------------------------------ broker side */

  /** Open a link to the zone's brokers, starting at the uid's broker (stable: same broker, same session). */
  private openLink(map: CompiledZoneMap, zoneName: string): boolean {
    const zi = map.zoneIndex.get(zoneName);
    const brokers = zi === undefined ? [] : (map.zones[zi]?.upstreams.mqtt ?? []);
    if (brokers.length === 0) return false;
    const uid = this.identity?.uid ?? null;
    const start =
      uid === null ? Math.floor(this.ctx.random() * brokers.length) : fnv1a32(uid) % brokers.length;
    this.candidates = brokers;
    this.firstCandidate = start;
    this.tried = 0;
    this.targetZone = zoneName;
    this.dialNext();
    return true;
  }

  private dialNext(): void {
    const address = this.candidates[(this.firstCandidate + this.tried++) % this.candidates.length] as string;
    const t = this.ctx.config.timeouts;
    const link = new UpstreamLink(
      this,
      this.targetZone,
      address,
      this.ctx.config.limits.maxPacketBytes,
      this.version,
      this.ctx.clock,
      this.ctx.clock + t.upstreamConnectTimeoutMs,
    );
    const connect = this.connectFrame as Buffer;
    link.write(this.phase === 'relay' ? moveConnect(connect, this.persistent) : connect);
    if (this.brokerPause !== 0) link.socket.pause();
    this.next = link;
  }

  onLinkFrame(link: UpstreamLink, frame: Buffer, hl: number): boolean {
    if (this.phase === 'closed') return false;
    const first = frame[0] as number;
    const type = first >> 4;
    if (link.state === 'connecting') {
      if (type !== T.CONNACK)
        return this.linkBroken(link, new MqttProtocolError('broker sent a packet before CONNACK'));
      return this.onBrokerConnack(link, frame);
    }
    switch (type) {
      case T.PUBLISH: {
        const qos = publishQos(first);
        if (qos > 0) {
          const te = topicEnd(frame, hl);
          const at = te < 0 ? -1 : publishIdOffset(frame, te);
          if (at < 0)
            return this.linkBroken(link, new MqttMalformedPacketError('PUBLISH from broker too short'));
          frame.writeUInt16BE(this.session.deliver(link, frame.readUInt16BE(at)), at);
          if (this.session.deliveryCount >= this.ctx.config.limits.inflightWindow)
            this.setBrokerPause(PAUSE_WINDOW, true);
        }
        this.toClient(frame);
        return true;
      }
      case T.PUBACK:
      case T.PUBCOMP: {
        if (link !== this.current) return true;
        if (this.session.acknowledged(ackId(frame, hl))) this.outgoingShrunk();
        this.toClient(frame);
        return true;
      }
      case T.PUBREC: {
        if (link !== this.current) return true;
        if (this.session.received(ackId(frame, hl))) this.toClient(frame);
        return true;
      }
      case T.PUBREL: {
        // Broker -> client QoS 2, step 3: find our id for the broker's.
        const brokerId = ackId(frame, hl);
        const gwId = this.session.findDelivery(link, brokerId);
        if (gwId < 0) {
          // Unknown here: complete it towards the broker so its flow ends (§4.3.3).
          if (link.live) this.linkWrite(link, ackFrame(T.PUBCOMP, brokerId));
          return true;
        }
        (this.session.delivery(gwId) as Delivery<UpstreamLink>).state = 2;
        frame.writeUInt16BE(gwId, hl);
        this.toClient(frame);
        return true;
      }
      case T.SUBACK:
      case T.UNSUBACK: {
        const id = ackId(frame, hl);
        if (link.injected?.delete(id) === true) {
          if (type === T.SUBACK && !this.injectedSubackOk(frame)) {
            this.moveFailed(
              link,
              new MqttMigrationFailedError(`broker ${link.address} refused the re-subscription`),
            );
            return false;
          }
          if (link.injected.size === 0) this.syncOrSwitch(link);
          return true;
        }
        if (link !== this.current) return true;
        this.session.subscriptionAcked(type, id, frame, this.version);
        this.toClient(frame);
        return true;
      }
      case T.PINGRESP:
        if (link.ownPings > 0) {
          link.ownPings--;
          return true;
        }
        if (link === this.current) this.toClient(frame);
        return true;
      case T.DISCONNECT:
        if (link === this.current) {
          // MQTT 5 server-initiated DISCONNECT: the client hears it as the broker said it.
          downRun.flush();
          this.socket.write(frame);
          this.teardown('broker-disconnect', null);
          return false;
        }
        if (link === this.next)
          this.moveFailed(
            link,
            new MqttMigrationFailedError(`broker ${link.address} disconnected during the move`),
          );
        return false;
      default:
        return this.linkBroken(
          link,
          new MqttProtocolError(`unexpected ${T.PACKET_NAMES[type] ?? type} from broker`),
        );
    }
  }

  private injectedSubackOk(frame: Buffer): boolean {
    const r = decodePacket(frame, this.version);
    if (!r.ok || r.packet.cmd !== 'suback') return false;
    return (r.packet.granted as unknown[]).every((g) => typeof g === 'number' && g < 0x80);
  }

  private outgoingShrunk(): void {
    if (
      this.clientPause & PAUSE_WINDOW &&
      this.session.outgoingCount < this.ctx.config.limits.inflightWindow
    ) {
      this.setClientPause(PAUSE_WINDOW, false);
    }
  }

  private onBrokerConnack(link: UpstreamLink, frame: Buffer): boolean {
    const limits = this.ctx.config.limits;
    const ack = readBrokerConnack(frame, this.version, limits.inflightWindow, limits.maxPacketBytes);
    if (ack === null)
      return this.linkBroken(link, new MqttMalformedPacketError('malformed CONNACK from broker'));
    if (this.phase === 'upstream') {
      this.connackCode = ack.code;
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
      this.next = null;
      link.state = 'current';
      link.deadline = 0;
      this.current = link;
      this.lastUpstream = link.address;
      this.zone = link.zone;
      this.phase = 'relay';
      this.toClient(ack.toClient);
      this.ctx.connectionUp(this);
      const early = this.early;
      this.early = null;
      if (early !== null) {
        for (const f of early) {
          if (!this.relayFromClient(f, headerLengthOf(f))) break;
        }
        upRun.flush();
      }
      if (this.phase === 'relay') {
        this.setClientPause(PAUSE_CONNACK, false);
        // The map may have changed while the session was being opened.
        const again = this.ctx.draining ? 1 : this.reconsider(this.ctx.holder.current);
        if (again >= 0) this.ctx.scheduler.enqueue(this, again);
      }
      return true;
    }
    // A move: the new session is open.
    if (ack.code !== 0) {
      this.moveFailed(
        link,
        new MqttMigrationFailedError(
          `broker ${link.address} refused the session (0x${ack.code.toString(16)})`,
        ),
      );
      return false;
    }
    link.state = 'preparing';
    link.deadline = this.ctx.clock + this.ctx.config.timeouts.migrationTimeoutMs;
    link.synced = new Map<string, string>();
    link.injected = new Set();
    this.syncOrSwitch(link);
    return true;
  }

  /**
   * Bring the new broker's subscriptions to the client's current set (it may change while the
   * new session is prepared), then switch. The gateway's packet ids here are never seen by the
   * client and are all acknowledged before any client packet reaches this broker.
   */
  private syncOrSwitch(link: UpstreamLink): void {
    const synced = link.synced as Map<string, string>;
    if (link.syncedVersion === this.session.subsVersion) {
      this.switchTo(link);
      return;
    }
    link.syncedVersion = this.session.subsVersion;
    const injected = link.injected as Set<number>;
    for (const p of this.session.syncPackets(synced, this.version)) {
      injected.add(p.id);
      this.linkWrite(link, p.frame);
    }
    if (injected.size === 0) this.switchTo(link);
  }

  /** The new session is ready: the client's packets go there from now on. */
  private switchTo(link: UpstreamLink): void {
    const old = this.current;
    this.next = null;
    link.state = 'current';
    link.deadline = 0;
    link.injected = null;
    link.synced = null;
    this.current = link;
    this.lastUpstream = link.address;
    this.zone = link.zone;
    this.moving = false;
    // Resend what the client has not seen acknowledged, in the order it was sent (§4.6).
    upRun.flush();
    link.socket.cork();
    this.session.resend((f) => link.write(f));
    link.socket.uncork();
    if (old !== null) this.leave(old);
    this.setClientPause(PAUSE_DRAIN, link.socket.writableNeedDrain);
    this.ctx.moveFinished(this, 'ok');
    // The map may have changed again while this move was under way.
    const again = this.reconsider(this.ctx.holder.current);
    if (again >= 0) this.ctx.scheduler.enqueue(this, again);
  }

  /** DISCONNECT the old broker; keep reading what it still had in flight for a while. */
  private leave(link: UpstreamLink): void {
    link.state = 'leaving';
    this.linkWrite(link, leaveDisconnect(this.version, this.persistent));
    link.socket.end();
    link.deadline = this.ctx.clock + this.ctx.config.timeouts.migrationLingerMs;
    (this.leaving ??= []).push(link);
  }

  onLinkFailure(link: UpstreamLink, error: ZonegateError): void {
    this.linkBroken(link, error);
  }

  onLinkClose(link: UpstreamLink): void {
    if (this.phase === 'closed') return;
    if (link === this.current) {
      this.brokerLost(link, new MqttUpstreamUnavailableError(`broker ${link.address} closed the connection`));
    } else if (link === this.next) {
      this.linkBroken(link, new MqttUpstreamUnavailableError(`broker ${link.address} closed the connection`));
    } else {
      this.dropLeaving(link);
    }
  }

  onLinkDrain(link: UpstreamLink): void {
    if (link === this.current) this.setClientPause(PAUSE_DRAIN, false);
  }

  /** A link misbehaved or failed. Returns false (stop reading its bytes). */
  private linkBroken(link: UpstreamLink, error: ZonegateError): boolean {
    if (this.phase === 'closed') return false;
    if (error instanceof MqttMalformedPacketError || error instanceof MqttProtocolError) {
      this.ctx.stats.malformedFromBrokers++;
    }
    if (link.state === 'connecting' && this.phase === 'upstream') {
      link.destroy();
      this.next = null;
      if (this.tried < this.candidates.length) {
        this.dialNext();
        return false;
      }
      this.refuse(
        new MqttUpstreamUnavailableError(`no broker of zone ${this.targetZone} answered`, error),
        Buffer.alloc(0),
      );
      return false;
    }
    if (link === this.next) {
      const wasConnecting = link.state === 'connecting';
      link.destroy();
      this.next = null;
      if (wasConnecting && this.tried < this.candidates.length) {
        this.dialNext();
        return false;
      }
      this.moveFailed(
        null,
        new MqttMigrationFailedError(`move to zone ${link.zone} failed: ${error.message}`, error),
      );
      return false;
    }
    if (link === this.current) {
      if (error instanceof MqttUpstreamUnavailableError) {
        this.brokerLost(link, error);
      } else {
        this.fail(error, 'broker');
      }
      return false;
    }
    this.dropLeaving(link);
    link.destroy();
    return false;
  }

  /**
   * The current broker went away. While a move of this connection is under way or queued to
   * run at once (the usual case in a failover: the zone went down with its broker), the client
   * waits for the new session and its unacknowledged packets are resent there. Otherwise the client is closed as
   * the broker closed it: re-opening on our own could fight a session takeover (§3.1.4-3).
   */
  private brokerLost(link: UpstreamLink, error: ZonegateError): void {
    this.ctx.stats.brokersLost++;
    link.destroy();
    this.current = null;
    // Waiting for a move due now (not one spread over a drain window) is worth it.
    if (this.moving || (this.moveQueued && this.moveDue === 0)) return;
    this.ctx.logger.warn({ code: error.code, zone: this.zone, upstream: link.address }, 'mqtt broker lost');
    this.teardown('broker-lost', null);
  }

  private dropLeaving(link: UpstreamLink): void {
    if (this.leaving === null) return;
    const i = this.leaving.indexOf(link);
    if (i >= 0) this.leaving.splice(i, 1);
    if (this.leaving.length === 0) this.leaving = null;
    link.destroy();
    // QoS 2 deliveries whose PUBREL that broker will now never send: the gateway sends it (§4.3.3).
    if (this.phase === 'relay') {
      for (const gwId of this.session.orphanedReleases(link)) this.toClient(ackFrame(T.PUBREL, gwId));
    }
  }

  /* ------------------------------------------------------------------ moves */

  /**
   * Re-decide after a zone map change. Returns the delay (ms) after which to move, or -1 when
   * this connection stays where it is.
   */
  reconsider(next: CompiledZoneMap): number {
    if (this.phase !== 'relay' || this.identity === null) return -1;
    const current = this.zone === null ? undefined : next.zoneIndex.get(this.zone);
    const zone = current === undefined ? undefined : next.zones[current];
    if (this.identity.uid === null && zone?.live === true) return -1;
    const d = decide(this.identity, 'rzone', next, this.ctx.self, this.ctx.random);
    const address = this.current?.address;
    if (
      d.ok &&
      d.zone === this.zone &&
      address !== undefined &&
      zone?.upstreams.mqtt.includes(address) === true
    ) {
      return -1;
    }
    if (zone?.effectiveStatus === 'drain') {
      this.moveCause = 'drain';
      return Math.floor(this.ctx.random() * this.ctx.config.migration.drainWindowMs) + 1;
    }
    this.moveCause = zone?.live === true ? 'rebalance' : 'down';
    return 0;
  }

  /** Movable: called by the scheduler when a token is available. */
  runMove(): boolean {
    if (this.phase !== 'relay' || this.moving) return false;
    if (this.ctx.draining) {
      // The gateway is leaving service: clients reconnect (through LVS) to other gateways.
      this.moveCause = 'shutdown';
      this.tellToReconnect('gateway-drain');
      return true;
    }
    const map = this.ctx.holder.current;
    if (this.reconsider(map) < 0) {
      // No longer needed; a session that lost its broker while queued cannot stay.
      if (this.current === null) this.teardown('broker-lost', null);
      return false;
    }
    const d = decide(this.identity as Identity, 'rzone', map, this.ctx.self, this.ctx.random);
    if (!d.ok || this.ctx.config.migration.mode === 'disconnect') {
      this.tellToReconnect(d.ok ? 'moved' : 'no-live-zone');
      return true;
    }
    this.moving = true;
    this.reason = d.reason;
    this.colour = d.colour;
    if (!this.openLink(map, d.zone)) {
      this.moveFailed(null, new MqttMigrationFailedError(`zone ${d.zone} lists no mqtt upstream`));
    }
    return true;
  }

  private moveFailed(link: UpstreamLink | null, error: ZonegateError): void {
    if (link !== null) link.destroy();
    if (this.next !== null && this.next !== link) this.next.destroy();
    this.next = null;
    this.moving = false;
    this.ctx.logger.warn({ code: error.code, zone: this.zone }, `mqtt move failed: ${error.message}`);
    this.ctx.moveFinished(this, 'failed');
    this.tellToReconnect('move-failed');
  }

  /**
   * Fallback: MQTT 5 clients get DISCONNECT 0x9C "Use another server" or 0x9D "Server moved"
   * with the configured Server Reference (§4.11); 3.1.1 has no such packet, the connection closes.
   */
  tellToReconnect(why: string): void {
    if (this.phase === 'closed') return;
    const m = this.ctx.config.migration;
    const code = m.disconnectReason === 'server-moved' ? 0x9d : 0x9c;
    if (why !== 'move-failed') this.ctx.moveFinished(this, 'disconnected');
    this.teardown(why, this.version === 5 ? serverDisconnect(code, m.serverReference) : null);
  }

  /* ------------------------------------------------------------------ timers and teardown */

  /** Called by the server's sweep with the coarse clock. */
  sweep(now: number): void {
    if (this.phase === 'connect' || this.phase === 'upstream') {
      if (now > this.connectDeadline && this.phase === 'connect') {
        this.refuse(new MqttConnectTimeoutError(this.ctx.config.timeouts.connectTimeoutMs), Buffer.alloc(0));
        return;
      }
    }
    const next = this.next;
    if (next !== null && next.deadline > 0 && now > next.deadline) {
      this.linkBroken(
        next,
        new MqttUpstreamUnavailableError(`broker ${next.address} did not answer in time`),
      );
      if (this.phase === 'closed') return;
    }
    if (this.leaving !== null) {
      for (const l of [...this.leaving]) if (now > l.deadline) this.dropLeaving(l);
    }
    if (this.phase !== 'relay') return;
    if (this.keepaliveMs > 0 && now - this.lastRx > this.keepaliveMs) {
      this.fail(new MqttKeepAliveTimeoutError('client', now - this.lastRx), 'client');
      return;
    }
    const up = this.current;
    if (up === null) return;
    const t = this.ctx.config.timeouts;
    if (up.pingSentAt > 0) {
      if (now - up.pingSentAt > t.upstreamResponseTimeoutMs) {
        this.brokerLost(up, new MqttKeepAliveTimeoutError('broker', now - up.lastRx));
      }
    } else if (now - up.lastRx > t.upstreamPingIntervalMs) {
      up.ownPings++;
      up.pingSentAt = now;
      this.linkWrite(up, PINGREQ_FRAME);
    }
  }

  /** Close after a protocol violation or bad input from one side (metric + one log line). */
  private fail(error: ZonegateError, side: 'client' | 'broker'): false {
    if (this.phase === 'closed') return false;
    if (error instanceof MqttMalformedPacketError || error instanceof MqttProtocolError) {
      if (side === 'client') this.ctx.stats.malformedFromClients++;
      else this.ctx.stats.malformedFromBrokers++;
    }
    this.ctx.logger.warn(
      { code: error.code, reasonCode: error.mqttReasonCode, side, zone: this.zone, protocol: this.protocol },
      `mqtt connection closed: ${error.message}`,
    );
    const code = DISCONNECT_CODES.has(error.mqttReasonCode) ? error.mqttReasonCode : 0x80;
    this.teardown(
      `${side}-error`,
      this.version === 5 && this.phase === 'relay' ? serverDisconnect(code) : null,
    );
    return false;
  }

  /** Gateway shutdown: MQTT 5 clients hear 0x8B "Server shutting down" (§3.14.2.1). */
  shutdown(): void {
    this.teardown('shutdown', this.version === 5 && this.phase === 'relay' ? serverDisconnect(0x8b) : null);
  }

  /** The one place a connection ends: last words to the client, then every socket closed. */
  teardown(end: string, lastWords: Buffer | null): void {
    if (this.phase === 'closed') return;
    const wasRelaying = this.phase === 'relay';
    const upstream = this.current?.address ?? this.lastUpstream;
    this.phase = 'closed';
    // What was relayed before the end still goes out, in order, before the last words.
    upRun.flush();
    downRun.flush();
    this.moveQueued = false;
    for (const l of this.links()) {
      // After the client's DISCONNECT, let it reach the broker (the Will is discarded, §3.14.4);
      // any other end drops the connection so the broker publishes the Will (§3.1.2.5).
      if (l === this.current && end === 'client-disconnect') {
        l.state = 'closed';
        l.socket.end();
      } else {
        l.destroy();
      }
    }
    this.current = null;
    this.next = null;
    this.leaving = null;
    this.early = null;
    if (lastWords !== null && !this.socket.destroyed) {
      this.socket.end(lastWords);
      // A client that does not read must not keep the socket: hard close shortly after.
      setTimeout(destroySocket, 1000, this.socket).unref();
    } else {
      this.socket.destroy();
    }
    this.ctx.accessLog?.mqtt({
      protocol: this.protocol,
      zone: this.zone,
      colour: this.colour,
      reason: this.reason,
      upstream,
      result: wasRelaying ? 0 : this.connackCode,
      durationMs: this.ctx.clock - this.startedAt,
      packetsIn: this.packetsIn,
      packetsOut: this.packetsOut,
      end,
    });
    this.ctx.connectionClosed(this);
  }
}

const NO_BROKERS: readonly string[] = Object.freeze([]);

const kConnection = Symbol('zonegate.mqttConnection');
type OwnedSocket = Socket & { [kConnection]?: MqttConnection };

/**
 * Packets relayed towards brokers and towards clients, coalesced into runs (run-writer.ts).
 * Shared by every connection: each handler flushes before it returns, so a run never outlives
 * the chunk that filled it.
 */
const upRun = new RunWriter();
const downRun = new RunWriter();

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

function headerLengthOf(frame: Buffer): number {
  let i = 1;
  while (i < 5 && ((frame[i] as number) & 0x80) !== 0) i++;
  return i + 1;
}
