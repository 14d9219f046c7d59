/**
 * What the gateway keeps of one client's MQTT session to move it to another broker, and
 * nothing more: the subscriptions brokers acknowledged, the client's unacknowledged QoS 1/2
 * PUBLISH, SUBSCRIBE and UNSUBSCRIBE (copies, to resend; §4.4), and the broker-to-client
 * QoS 1/2 deliveries the client has not acknowledged (ids only: the client already has them).
 *
 * Packet identifiers are per direction and per network connection (§2.2.1). Client -> broker
 * ids are the client's and pass unchanged. Broker -> client ids are the gateway's: each QoS 1/2
 * delivery gets an id not in use towards the client, so deliveries of an old and a new broker
 * (both deliver during a move) never collide; acknowledgements are translated back.
 *
 * Every map is created on first use: an idle connection holds none.
 */
import type { ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import { decodePacket } from './codec.js';
import * as T from './packet-type.js';
import { ackFrame, withDup } from './publish.js';
import { applySuback, resubscribePackets, type SubscriptionEntry, type Subscriptions } from './subscribe.js';
import { applyUnsuback, unsubscribePacket } from './unsubscribe.js';

/** QoS 2 PUBLISH from the client (§4.3.3): sent, PUBREC relayed to the client, PUBREL relayed. */
const QOS2_SENT = 1;
const QOS2_RECEIVED = 2;
const QOS2_RELEASED = 3;

/** Client -> broker packet not yet acknowledged. */
interface Outgoing {
  readonly type: number;
  /** Copy of the packet, for resending. */
  frame: Buffer;
  /** QOS2_* for a QoS 2 PUBLISH, 0 otherwise. */
  qos2: number;
  /** Resent after the client already saw a PUBREC: the new broker's PUBREC is dropped. */
  swallowRec: boolean;
  readonly decoded: ISubscribePacket | IUnsubscribePacket | null;
}

/** Broker -> client QoS 1/2 PUBLISH the client has not acknowledged, by gateway id. */
export interface Delivery<L> {
  readonly link: L;
  readonly brokerId: number;
  /** 0 published, 1 the client sent PUBREC, 2 PUBREL sent to the client. */
  state: number;
}

export class SessionState<L> {
  private outgoing: Map<number, Outgoing> | null = null;
  private deliveries: Map<number, Delivery<L>> | null = null;
  private nextGwId = 1;
  subs: Subscriptions | null = null;
  /** Bumped whenever `subs` changes (a move re-syncs the new broker until it is stable). */
  subsVersion = 0;

  get outgoingCount(): number {
    return this.outgoing?.size ?? 0;
  }

  get deliveryCount(): number {
    return this.deliveries?.size ?? 0;
  }

  get subscriptionCount(): number {
    return this.subs?.size ?? 0;
  }

  /* ------------------------------------------------------------ client -> broker */

  /** The client sent a QoS 1/2 PUBLISH with `id`: keep a copy until the broker acknowledges it. */
  keepPublish(id: number, frame: Buffer, qos: number): void {
    (this.outgoing ??= new Map()).set(id, {
      type: T.PUBLISH,
      frame: Buffer.from(frame),
      qos2: qos === 2 ? QOS2_SENT : 0,
      swallowRec: false,
      decoded: null,
    });
  }

  keepSubscribe(id: number, frame: Buffer, decoded: ISubscribePacket | IUnsubscribePacket): void {
    (this.outgoing ??= new Map()).set(id, {
      type: decoded.cmd === 'subscribe' ? T.SUBSCRIBE : T.UNSUBSCRIBE,
      frame: Buffer.from(frame),
      qos2: 0,
      swallowRec: false,
      decoded,
    });
  }

  /** The client sent PUBREL for its QoS 2 PUBLISH `id`. */
  released(id: number): void {
    const o = this.outgoing?.get(id);
    if (o !== undefined) o.qos2 = QOS2_RELEASED;
  }

  /** PUBACK / PUBCOMP from the current broker. Returns true when it completed a kept packet. */
  acknowledged(id: number): boolean {
    return this.outgoing?.delete(id) === true;
  }

  /** PUBREC from the current broker. Returns false when it must not reach the client (already seen). */
  received(id: number): boolean {
    const o = this.outgoing?.get(id);
    if (o === undefined) return true;
    o.qos2 = QOS2_RECEIVED;
    if (!o.swallowRec) return true;
    o.swallowRec = false;
    return false;
  }

  /** SUBACK / UNSUBACK from the current broker for the client's packet `id`: update the subscriptions. */
  subscriptionAcked(type: number, id: number, frame: Buffer, version: number): void {
    const o = this.outgoing?.get(id);
    if (o === undefined || o.decoded === null) return;
    this.outgoing?.delete(id);
    const r = decodePacket(frame, version);
    if (!r.ok) return;
    const subs = (this.subs ??= new Map<string, SubscriptionEntry>());
    if (type === T.SUBACK && r.packet.cmd === 'suback' && o.decoded.cmd === 'subscribe') {
      applySuback(subs, o.decoded, r.packet);
      this.subsVersion++;
    } else if (type === T.UNSUBACK && r.packet.cmd === 'unsuback' && o.decoded.cmd === 'unsubscribe') {
      applyUnsuback(subs, o.decoded, version === 5 ? (r.packet.granted ?? null) : null);
      this.subsVersion++;
    }
  }

  /**
   * Everything the client has not seen acknowledged, for a new broker, in the order it was
   * sent (§4.6): QoS 1/2 PUBLISH again with DUP set (§4.4), PUBREL for a QoS 2 the client
   * already released, SUBSCRIBE / UNSUBSCRIBE as they were.
   */
  resend(write: (frame: Buffer) => void): void {
    if (this.outgoing === null) return;
    for (const [id, o] of this.outgoing) {
      if (o.type !== T.PUBLISH) {
        write(o.frame);
      } else if (o.qos2 === QOS2_RELEASED) {
        write(ackFrame(T.PUBREL, id));
      } else {
        if (o.qos2 === QOS2_RECEIVED) o.swallowRec = true;
        o.frame = withDup(o.frame);
        write(o.frame);
      }
    }
  }

  /**
   * A packet id the client has in use towards no broker now: an old session keeps the ids of
   * the client's packets that were in flight when it was left (§2.2.1), so the gateway's own
   * UNSUBSCRIBE there takes one of none of those.
   */
  unusedOutgoingId(): number {
    let id = 1;
    while (this.outgoing?.has(id) === true) id++;
    return id;
  }

  /** Topic filters the client is subscribed to, or asked to be and not yet acknowledged. */
  filters(): string[] {
    const out = new Set(this.subs === null ? [] : this.subs.keys());
    if (this.outgoing !== null) {
      for (const o of this.outgoing.values()) {
        if (o.decoded?.cmd === 'subscribe') for (const s of o.decoded.subscriptions) out.add(s.topic);
      }
    }
    return [...out];
  }

  /**
   * The SUBSCRIBE / UNSUBSCRIBE packets (ids from 1) that bring a new broker, which has
   * `synced` (filter -> options key), to the current subscriptions; `synced` is updated.
   */
  syncPackets(synced: Map<string, string>, version: number): { id: number; frame: Buffer }[] {
    const subs = this.subs;
    const add: string[] = [];
    if (subs !== null) {
      for (const [filter, e] of subs) {
        const key = `${e.qos}${e.nl ? 1 : 0}${e.rap ? 1 : 0}${e.rh}:${e.subId}`;
        if (synced.get(filter) !== key) {
          add.push(filter);
          synced.set(filter, key);
        }
      }
    }
    const remove: string[] = [];
    for (const filter of synced.keys()) if (subs?.has(filter) !== true) remove.push(filter);
    let id = 0;
    const nextId = (): number => ++id;
    const out = subs !== null && add.length > 0 ? resubscribePackets(subs, add, version, nextId) : [];
    if (remove.length > 0) {
      for (const f of remove) synced.delete(f);
      const uid = nextId();
      out.push({ id: uid, frame: unsubscribePacket(remove, uid, version) });
    }
    return out;
  }

  /* ------------------------------------------------------------ broker -> client */

  /** A QoS 1/2 PUBLISH from `link` with the broker's `brokerId`: the id the client sees. */
  deliver(link: L, brokerId: number): number {
    const d = (this.deliveries ??= new Map());
    let id = this.nextGwId;
    // Ids in use are at most the inflight window plus one chunk's worth: this ends quickly.
    while (d.has(id)) id = id === 65_535 ? 1 : id + 1;
    this.nextGwId = id === 65_535 ? 1 : id + 1;
    d.set(id, { link, brokerId, state: 0 });
    return id;
  }

  delivery(gwId: number): Delivery<L> | undefined {
    return this.deliveries?.get(gwId);
  }

  /** The client completed delivery `gwId` (PUBACK / PUBCOMP). */
  delivered(gwId: number): Delivery<L> | undefined {
    const d = this.deliveries?.get(gwId);
    if (d !== undefined) this.deliveries?.delete(gwId);
    return d;
  }

  /** PUBREL from `link` for its `brokerId`: our id for it, or -1. Linear, QoS 2 only, bounded by the window. */
  findDelivery(link: L, brokerId: number): number {
    if (this.deliveries === null) return -1;
    for (const [gwId, d] of this.deliveries) if (d.link === link && d.brokerId === brokerId) return gwId;
    return -1;
  }

  /**
   * `link` is gone: ids of its QoS 2 deliveries the client PUBREC'd whose PUBREL will never
   * come; the gateway sends it instead (§4.3.3). They are marked as released.
   */
  orphanedReleases(link: L): number[] {
    const out: number[] = [];
    if (this.deliveries === null) return out;
    for (const [gwId, d] of this.deliveries) {
      if (d.link === link && d.state === 1) {
        d.state = 2;
        out.push(gwId);
      }
    }
    return out;
  }
}
