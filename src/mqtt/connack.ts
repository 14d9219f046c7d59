/**
 * CONNACK (MQTT 3.1.1 §3.2, MQTT 5 §3.2): refusals the gateway sends itself, and the
 * broker's CONNACK rewritten before it reaches the client.
 */
import type { IConnackPacket } from 'mqtt-packet';
import { decodePacket, encodePacket } from './codec.js';

/**
 * 3.1.1 return code (§3.2.2.3) for an MQTT 5 reason code, or -1 when 3.1.1 has none: the
 * server then closes without a CONNACK (§4.8 for malformed packets).
 */
export function v4ReturnCode(reasonCode: number): number {
  switch (reasonCode) {
    case 0x84: // Unsupported Protocol Version
      return 0x01;
    case 0x85: // Client Identifier not valid
      return 0x02;
    case 0x88: // Server unavailable
    case 0x89: // Server busy
    case 0x97: // Quota exceeded
      return 0x03;
    case 0x86: // Bad User Name or Password
      return 0x04;
    case 0x87: // Not authorized
    case 0x8c: // Bad authentication method
      return 0x05;
    default:
      return -1;
  }
}

/**
 * The code a refused client of protocol level `version` receives in its CONNACK: the MQTT 5
 * reason code, the 3.1.1 return code, or -1 when no CONNACK is sent (the connection closes).
 * An unknown level gets the 3.1.1 form with 0x01 (3.1.1 §3.1.2.2, MQTT-3.1.2-2).
 */
export function refusalCode(reasonCode: number, version: number): number {
  if (version === 5) return reasonCode;
  return reasonCode === 0x84 ? 0x01 : v4ReturnCode(reasonCode);
}

/** The refusing CONNACK for a client of protocol level `version`, or null when none is sent. */
export function refusalConnack(reasonCode: number, version: number): Buffer | null {
  if (version === 5) {
    return encodePacket({ cmd: 'connack', sessionPresent: false, reasonCode }, 5);
  }
  const rc = refusalCode(reasonCode, version);
  if (rc < 0) return null;
  return Buffer.from([0x20, 0x02, 0x00, rc]);
}

const ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const ACCEPTED_PRESENT = Buffer.from([0x20, 0x02, 0x01, 0x00]);

export interface BrokerConnack {
  /** 0 when the broker accepted the session. */
  readonly code: number;
  readonly sessionPresent: boolean;
  /** MQTT 5 Server Keep Alive (§3.2.2.3.14), when the broker overrides the client's. */
  readonly serverKeepAliveSec: number | undefined;
  readonly assignedClientId: string | undefined;
  /** What to send the client (the broker's CONNACK, rewritten for MQTT 5). */
  readonly toClient: Buffer;
}

/**
 * Read the broker's CONNACK. For MQTT 5 the client is offered no topic aliases (they would not
 * survive a move) and a Receive Maximum no larger than the inflight window (§3.2.2.3.3).
 */
export function readBrokerConnack(
  frame: Buffer,
  version: number,
  inflightWindow: number,
  maxPacketBytes: number,
): BrokerConnack | null {
  if (
    version !== 5 &&
    frame.length === 4 &&
    frame[0] === 0x20 &&
    frame[1] === 2 &&
    (frame[2] as number) <= 1
  ) {
    // 3.1.1 §3.2: the whole CONNACK is these four bytes; read them without a parser (every
    // connect passes here). The accepted ones go out as shared constants, never written to.
    const code = frame[3] as number;
    const sessionPresent = frame[2] === 1;
    return {
      code,
      sessionPresent,
      serverKeepAliveSec: undefined,
      assignedClientId: undefined,
      toClient: code === 0 ? (sessionPresent ? ACCEPTED_PRESENT : ACCEPTED) : Buffer.from(frame),
    };
  }
  const r = decodePacket(frame, version);
  if (!r.ok || r.packet.cmd !== 'connack') return null;
  const p: IConnackPacket = r.packet;
  const code = (version === 5 ? p.reasonCode : p.returnCode) ?? 0;
  if (version !== 5) {
    return {
      code,
      sessionPresent: p.sessionPresent,
      serverKeepAliveSec: undefined,
      assignedClientId: undefined,
      toClient: Buffer.from(frame),
    };
  }
  const properties = { ...p.properties };
  delete properties.topicAliasMaximum;
  if (code === 0) {
    properties.receiveMaximum = Math.min(properties.receiveMaximum ?? 65_535, inflightWindow);
    properties.maximumPacketSize = Math.min(properties.maximumPacketSize ?? maxPacketBytes, maxPacketBytes);
  }
  return {
    code,
    sessionPresent: p.sessionPresent,
    serverKeepAliveSec: p.properties?.serverKeepAlive,
    assignedClientId: p.properties?.assignedClientIdentifier,
    toClient: encodePacket({ ...p, properties }, 5),
  };
}
