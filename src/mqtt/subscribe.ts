/**
 * SUBSCRIBE / SUBACK (MQTT 3.1.1 §3.8-3.9, MQTT 5 §3.8-3.9): the client's subscriptions as the
 * broker acknowledged them, kept to re-subscribe at another broker on a move.
 */
import type { ISubackPacket, ISubscribePacket, ISubscription, QoS } from 'mqtt-packet';
import { encodePacket } from './codec.js';

export interface SubscriptionEntry {
  readonly qos: QoS;
  readonly nl: boolean;
  readonly rap: boolean;
  readonly rh: number;
  /** MQTT 5 Subscription Identifier (§3.8.2.1.2), 0 when none. */
  readonly subId: number;
}

/** Topic filter -> options, in the order first subscribed. */
export type Subscriptions = Map<string, SubscriptionEntry>;

/**
 * Record the filters of `sub` the broker granted in `suback` (codes below 0x80, §3.9.3).
 * Returns false when the SUBACK does not match the SUBSCRIBE (count of codes differs).
 */
export function applySuback(subs: Subscriptions, sub: ISubscribePacket, suback: ISubackPacket): boolean {
  const granted = suback.granted;
  if (granted.length !== sub.subscriptions.length) return false;
  const subId = sub.properties?.subscriptionIdentifier ?? 0;
  for (let i = 0; i < granted.length; i++) {
    const code = granted[i];
    const s = sub.subscriptions[i] as ISubscription;
    if (typeof code === 'number' && code < 0x80) {
      subs.set(s.topic, { qos: s.qos, nl: s.nl ?? false, rap: s.rap ?? false, rh: s.rh ?? 0, subId });
    }
  }
  return true;
}

/**
 * SUBSCRIBE packets that recreate `filters` at another broker, one per Subscription
 * Identifier (an identifier belongs to the whole SUBSCRIBE, §3.8.2.1.2). Retain Handling is
 * kept as the client asked: retained messages are state, and resending them is what a new
 * subscription does.
 */
export function resubscribePackets(
  subs: Subscriptions,
  filters: Iterable<string>,
  version: number,
  nextId: () => number,
): { id: number; frame: Buffer }[] {
  const groups = new Map<number, ISubscription[]>();
  for (const topic of filters) {
    const e = subs.get(topic);
    if (e === undefined) continue;
    let g = groups.get(e.subId);
    if (g === undefined) groups.set(e.subId, (g = []));
    g.push(version === 5 ? { topic, qos: e.qos, nl: e.nl, rap: e.rap, rh: e.rh } : { topic, qos: e.qos });
  }
  const out: { id: number; frame: Buffer }[] = [];
  for (const [subId, subscriptions] of groups) {
    const id = nextId();
    const packet: ISubscribePacket = { cmd: 'subscribe', messageId: id, subscriptions };
    if (version === 5 && subId !== 0) packet.properties = { subscriptionIdentifier: subId };
    out.push({ id, frame: encodePacket(packet, version) });
  }
  return out;
}

/** A SUBACK refusing every filter of `sub` (0x97 Quota exceeded in 5, 0x80 Failure in 3.1.1). */
export function refusingSuback(sub: ISubscribePacket, version: number): Buffer {
  const code = version === 5 ? 0x97 : 0x80;
  return encodePacket(
    { cmd: 'suback', messageId: sub.messageId ?? 0, granted: sub.subscriptions.map(() => code) },
    version,
  );
}
