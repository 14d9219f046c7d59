/**
 * MQTT control packet types (MQTT 3.1.1 §2.2.1, MQTT 5 §2.1.2): the high nibble of the
 * fixed header's first byte.
 */
export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
export const SUBSCRIBE = 8;
export const SUBACK = 9;
export const UNSUBSCRIBE = 10;
export const UNSUBACK = 11;
export const PINGREQ = 12;
export const PINGRESP = 13;
export const DISCONNECT = 14;
/** MQTT 5 only (§3.15). */
export const AUTH = 15;

/** Bounded label set for metrics, indexed by packet type. */
export const PACKET_NAMES: readonly string[] = [
  'reserved',
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
];

/**
 * Whether the low nibble (flags) of a fixed header is legal for its type: PUBLISH carries
 * DUP/QoS/RETAIN (QoS 3 is malformed, §3.3.1.2); PUBREL, SUBSCRIBE and UNSUBSCRIBE must be
 * 0b0010; every other type 0b0000 (§2.2.2 / MQTT 5 §2.1.3). Type 0 is reserved; AUTH only in 5.
 */
export function validFixedHeader(first: number, version: number): boolean {
  const type = first >> 4;
  const flags = first & 0x0f;
  switch (type) {
    case 0:
      return false;
    case PUBLISH:
      return (flags & 0x06) !== 0x06;
    case PUBREL:
    case SUBSCRIBE:
    case UNSUBSCRIBE:
      return flags === 0x02;
    case AUTH:
      return version === 5 && flags === 0;
    default:
      return flags === 0;
  }
}
