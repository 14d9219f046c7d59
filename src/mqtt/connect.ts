/**
 * CONNECT (MQTT 3.1.1 §3.1, MQTT 5 §3.1): decode with bounds already enforced by the frame
 * reader, check what the gateway must check itself, and build the CONNECT sent to brokers.
 */
import type { IConnectPacket } from 'mqtt-packet';
import type { ZonegateError } from '../core/errors.js';
import { decodePacket, encodePacket } from './codec.js';
import { headerLengthOf } from './frame-reader.js';
import {
  MqttBadAuthMethodError,
  MqttClientIdInvalidError,
  MqttMalformedPacketError,
  MqttProtocolError,
  MqttUnsupportedProtocolError,
} from './errors.js';

/** Clean Session (3.1.1 §3.1.2.4) / Clean Start (5 §3.1.2.4) bit of the Connect Flags byte. */
const CLEAN_FLAG = 0x02;

export interface ClientConnect {
  readonly packet: IConnectPacket;
  /** 3 (3.1), 4 (3.1.1) or 5. */
  readonly version: 3 | 4 | 5;
  /** The client wants its session kept across connections (clean=0, or MQTT 5 expiry > 0). */
  readonly persistent: boolean;
  readonly keepaliveSec: number;
}

/**
 * Protocol level of a (possibly partial or oversized) CONNECT, read from its first bytes:
 * fixed header, 2-byte protocol name length, name, level (§3.1.2.1-2). -1 when not there yet.
 */
export function peekConnectLevel(head: Buffer): number {
  if (head.length < 2 || (head[0] as number) >> 4 !== 1) return -1;
  let i = 1;
  while (i < head.length && i < 5 && ((head[i] as number) & 0x80) !== 0) i++;
  i++;
  if (head.length < i + 2) return -1;
  const nameLength = head.readUInt16BE(i);
  const at = i + 2 + nameLength;
  return nameLength <= 6 && at < head.length ? (head[at] as number) : -1;
}

/** Decode and check a CONNECT frame. Returns the error whose reason code the CONNACK carries. */
export function readConnect(frame: Buffer): ClientConnect | ZonegateError {
  const level = peekConnectLevel(frame);
  if (level !== -1 && level !== 3 && level !== 4 && level !== 5)
    return new MqttUnsupportedProtocolError(level);
  let packet = level === 3 || level === 4 ? readConnectV4(frame) : null;
  if (packet === null) {
    const r = decodePacket(frame, level === 5 ? 5 : 4);
    if (!r.ok) return new MqttMalformedPacketError(`malformed CONNECT: ${r.error.message}`, r.error);
    if (r.packet.cmd !== 'connect') return new MqttMalformedPacketError('first packet is not CONNECT');
    packet = r.packet;
  }
  const version = packet.protocolVersion ?? 4;
  if (version !== 3 && version !== 4 && version !== 5) return new MqttUnsupportedProtocolError(version);
  const clean = packet.clean !== false;
  // 3.1.1 §3.1.3.1: a zero-length client id needs Clean Session 1 (MQTT-3.1.3-8: return code 0x02).
  if (version !== 5 && packet.clientId === '' && !clean) {
    return new MqttClientIdInvalidError('empty client id with a persistent session');
  }
  // Enhanced authentication (§4.12) needs AUTH exchanges that cannot be replayed on a move.
  if (version === 5 && packet.properties?.authenticationMethod !== undefined)
    return new MqttBadAuthMethodError();
  const expiry = packet.properties?.sessionExpiryInterval ?? 0;
  const persistent = version === 5 ? expiry > 0 : !clean;
  return { packet, version, persistent, keepaliveSec: packet.keepalive ?? 0 };
}

/**
 * An MQTT 3.1 / 3.1.1 CONNECT read straight from its frame: the common case, every connect of
 * a reconnect storm, without a parser object per connection (mqtt-packet adopts each CONNECT as
 * its parser's settings, so CONNECT needs a fresh one). Only what mqtt-packet reads the same way
 * is accepted here: name and level `MQTT` 4 or `MQIsdp` 3, reserved flag 0, Will flags
 * consistent, Will QoS 0-2, every field inside the frame and the frame used up exactly.
 * Anything else returns null and goes through mqtt-packet, so refusals and their messages keep
 * one source.
 */
function readConnectV4(frame: Buffer): IConnectPacket | null {
  const end = frame.length;
  if (frame[0] !== 0x10) return null;
  let i = headerLengthOf(frame);
  const length = end - i;
  if (end < i + 2) return null;
  const nameLength = frame.readUInt16BE(i);
  i += 2;
  let protocolId: 'MQTT' | 'MQIsdp';
  if (nameLength === 4 && end >= i + 4 && frame.toString('latin1', i, i + 4) === 'MQTT') protocolId = 'MQTT';
  else if (nameLength === 6 && end >= i + 6 && frame.toString('latin1', i, i + 6) === 'MQIsdp')
    protocolId = 'MQIsdp';
  else return null;
  i += nameLength;
  // Level, Connect Flags, Keep Alive (§3.1.2.2-10).
  if (end < i + 4) return null;
  const level = frame[i] as number;
  if ((protocolId === 'MQTT' ? 4 : 3) !== level) return null;
  const flags = frame[i + 1] as number;
  const willQos = (flags >> 3) & 3;
  const will = (flags & 0x04) !== 0;
  if ((flags & 0x01) !== 0 || willQos === 3 || (!will && (flags & 0x38) !== 0)) return null;
  const keepalive = frame.readUInt16BE(i + 2);
  i += 4;
  const clientIdEnd = fieldEnd(frame, i);
  if (clientIdEnd < 0) return null;
  const packet: IConnectPacket = {
    cmd: 'connect',
    length,
    protocolId,
    protocolVersion: level,
    clean: (flags & CLEAN_FLAG) !== 0,
    keepalive,
    clientId: frame.toString('utf8', i + 2, clientIdEnd),
  };
  i = clientIdEnd;
  if (will) {
    const topicEnd = fieldEnd(frame, i);
    const payloadEnd = topicEnd < 0 ? -1 : fieldEnd(frame, topicEnd);
    if (payloadEnd < 0) return null;
    packet.will = {
      topic: frame.toString('utf8', i + 2, topicEnd),
      payload: Buffer.from(frame.subarray(topicEnd + 2, payloadEnd)),
      qos: willQos as 0 | 1 | 2,
      retain: (flags & 0x20) !== 0,
    };
    i = payloadEnd;
  }
  if ((flags & 0x80) !== 0) {
    const e = fieldEnd(frame, i);
    if (e < 0) return null;
    packet.username = frame.toString('utf8', i + 2, e);
    i = e;
  }
  if ((flags & 0x40) !== 0) {
    const e = fieldEnd(frame, i);
    if (e < 0) return null;
    packet.password = Buffer.from(frame.subarray(i + 2, e));
    i = e;
  }
  return i === end ? packet : null;
}

/** End of the length-prefixed field at `at` (§1.5.4 / §1.5.6), or -1 when it overruns the frame. */
function fieldEnd(frame: Buffer, at: number): number {
  if (frame.length < at + 2) return -1;
  const e = at + 2 + frame.readUInt16BE(at);
  return e <= frame.length ? e : -1;
}

/**
 * The CONNECT sent to brokers. MQTT 5: no Topic Alias Maximum (the broker must not alias
 * towards the client: aliases die with the broker connection, §3.3.2.3.4) and a Receive
 * Maximum no larger than the gateway's inflight window (§3.1.2.11.3) and a Maximum Packet Size
 * no larger than the gateway's (§3.1.2.11.4). 3.1/3.1.1 pass as they are.
 */
export function upstreamConnect(
  c: ClientConnect,
  frame: Buffer,
  inflightWindow: number,
  maxPacketBytes: number,
): Buffer | ZonegateError {
  if (c.version !== 5) return Buffer.from(frame);
  const properties = { ...c.packet.properties };
  delete properties.topicAliasMaximum;
  properties.receiveMaximum = Math.min(properties.receiveMaximum ?? 65_535, inflightWindow);
  // The broker must not send what the gateway would refuse (§3.1.2.11.4).
  properties.maximumPacketSize = Math.min(properties.maximumPacketSize ?? maxPacketBytes, maxPacketBytes);
  try {
    return encodePacket({ ...c.packet, properties }, 5);
  } catch (err) {
    // mqtt-packet cannot write every legal CONNECT (e.g. a password without a user name,
    // allowed in MQTT 5 §3.1.2.9). Pass it as sent when nothing had to be rewritten.
    const original = c.packet.properties;
    if (
      original?.topicAliasMaximum === undefined &&
      (original?.receiveMaximum ?? 65_535) <= inflightWindow &&
      (original?.maximumPacketSize ?? Infinity) <= maxPacketBytes
    ) {
      return Buffer.from(frame);
    }
    return new MqttProtocolError(`CONNECT cannot be rewritten: ${(err as Error).message}`);
  }
}

/** Same CONNECT with another client id (MQTT 5 Assigned Client Identifier, §3.2.2.3.7). */
export function withClientId(connect: Buffer, clientId: string): Buffer {
  const r = decodePacket(connect, 5);
  if (!r.ok || r.packet.cmd !== 'connect') return connect;
  return encodePacket({ ...r.packet, clientId }, r.packet.protocolVersion ?? 4);
}

/**
 * The CONNECT used to open the session at another broker on a move: Clean Session / Clean
 * Start 0 when the client asked for a persistent session, so an existing session there is
 * resumed (§3.1.2.4); otherwise unchanged.
 */
export function moveConnect(connect: Buffer, persistent: boolean): Buffer {
  if (!persistent) return connect;
  const i = headerLengthOf(connect);
  const flagsAt = i + 2 + connect.readUInt16BE(i) + 1;
  if (((connect[flagsAt] as number) & CLEAN_FLAG) === 0) return connect;
  const copy = Buffer.from(connect);
  copy[flagsAt] = (copy[flagsAt] as number) & ~CLEAN_FLAG;
  return copy;
}
