/**
 * UNSUBSCRIBE / UNSUBACK (MQTT 3.1.1 §3.10-3.11, MQTT 5 §3.10-3.11).
 */
import type { IUnsubscribePacket } from 'mqtt-packet';
import { encodePacket } from './codec.js';
import type { Subscriptions } from './subscribe.js';

/**
 * Forget the filters of an acknowledged UNSUBSCRIBE. 3.1.1 UNSUBACK has no per-filter codes;
 * in MQTT 5 a failure code (>= 0x80) leaves the subscription as it was (§3.11.3).
 */
export function applyUnsuback(
  subs: Subscriptions,
  unsub: IUnsubscribePacket,
  codes: readonly number[] | null,
): void {
  const filters = unsub.unsubscriptions;
  for (let i = 0; i < filters.length; i++) {
    const code = codes?.[i] ?? 0;
    if (code < 0x80) subs.delete(filters[i] as string);
  }
}

/** An UNSUBSCRIBE the gateway sends itself (re-syncing a new broker during a move). */
export function unsubscribePacket(filters: string[], id: number, version: number): Buffer {
  return encodePacket({ cmd: 'unsubscribe', messageId: id, unsubscriptions: filters }, version);
}
