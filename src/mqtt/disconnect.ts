/**
 * DISCONNECT (MQTT 3.1.1 §3.14, MQTT 5 §3.14). In 3.1.1 only clients send it; an MQTT 5 server
 * sends it with a reason code before closing (§4.13.2), e.g. 0x9C Use another server or 0x9D
 * Server moved with a Server Reference (§4.11).
 */
import { encodePacket } from './codec.js';

/** A 3.1.1 DISCONNECT, or MQTT 5 "Normal disconnection" without properties (§3.14.2.1). */
export const PLAIN_DISCONNECT: Buffer = Buffer.from([0xe0, 0x00]);

export function serverDisconnect(reasonCode: number, serverReference?: string): Buffer {
  if (serverReference === undefined) return Buffer.from([0xe0, 0x01, reasonCode]);
  return encodePacket({ cmd: 'disconnect', reasonCode, properties: { serverReference } }, 5);
}

/**
 * The DISCONNECT the gateway sends a broker whose session it leaves after a move ("Normal
 * disconnection": the Will is not published, §3.14.4). An MQTT 5 persistent session that was
 * drained empty (unsubscribed, nothing left for the client) is ended there with Session
 * Expiry 0 (allowed when the CONNECT's was non-zero, §3.14.2.2.2), so a later move back does
 * not resume stale subscriptions. One that may still hold messages is never ended: it expires
 * as the client asked. 3.1.1 cannot end a session this way; a drained one stays, without
 * subscriptions, until it is resumed or expires.
 */
export function leaveDisconnect(version: number, persistent: boolean, emptied: boolean): Buffer {
  if (version !== 5 || !persistent || !emptied) return PLAIN_DISCONNECT;
  return encodePacket({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } }, 5);
}
