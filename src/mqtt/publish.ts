/**
 * PUBLISH and its acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP), read and rewritten on
 * raw bytes: the relay never decodes a message body.
 *
 * PUBLISH variable header (§3.3.2): Topic Name (2-byte length + UTF-8), then the Packet
 * Identifier when QoS > 0, then (MQTT 5) properties. Acknowledgements (§3.4-§3.7): the Packet
 * Identifier right after the fixed header, then (MQTT 5) an optional reason code and properties.
 */
import { PUBREL } from './packet-type.js';

/** DUP flag, fixed header bit 3 (§3.3.1.1). */
export const DUP_FLAG = 0x08;

export function publishQos(first: number): number {
  return (first >> 1) & 0x03;
}

/** Offset of the topic name's first byte. */
export function topicStart(headerLength: number): number {
  return headerLength + 2;
}

/** End (exclusive) of the topic name, or -1 when the packet is too short to hold it. */
export function topicEnd(frame: Buffer, headerLength: number): number {
  if (frame.length < headerLength + 2) return -1;
  const end = headerLength + 2 + frame.readUInt16BE(headerLength);
  return end > frame.length ? -1 : end;
}

/**
 * Offset of a QoS 1/2 PUBLISH's packet identifier, or -1 when the packet is too short.
 * `topicEndOffset` comes from topicEnd().
 */
export function publishIdOffset(frame: Buffer, topicEndOffset: number): number {
  return topicEndOffset + 2 > frame.length ? -1 : topicEndOffset;
}

/** Packet identifier of an acknowledgement (or SUBACK/UNSUBACK), or -1 when absent. */
export function ackId(frame: Buffer, headerLength: number): number {
  return frame.length < headerLength + 2 ? -1 : frame.readUInt16BE(headerLength);
}

/**
 * A minimal acknowledgement: reason code omitted means 0x00 Success in MQTT 5 (§3.4.2.1), and
 * is the only form in 3.1.1. PUBREL carries the fixed flags 0b0010 (§3.6.1).
 */
export function ackFrame(type: number, id: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = (type << 4) | (type === PUBREL ? 0x02 : 0);
  b[1] = 2;
  b[2] = id >> 8;
  b[3] = id & 0xff;
  return b;
}

/** A copy of a QoS 1/2 PUBLISH with DUP set, for resending after a move (§4.4). */
export function withDup(frame: Buffer): Buffer {
  const copy = Buffer.from(frame);
  copy[0] = (copy[0] as number) | DUP_FLAG;
  return copy;
}
