/**
 * Who an MQTT connection belongs to (docs/mqtt.md "Identity"): the uid from the CONNECT client
 * id or user name by `identity.mqtt.pattern`, or from the verified client certificate (the
 * `identity.certUid` rule when configured, else the subject CN through the same pattern).
 * MQTT strings are UTF-8 (MQTT 5 §1.5.4): the codec decodes them, and a value with bytes that
 * were not UTF-8 (decoded as U+FFFD) carries no uid, rather than one hashed from a guess.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Identity } from '../router/index.js';
import { certReader, type CertUidReader } from './cert-uid.js';
import { ANONYMOUS } from './identify.js';
import { pickUid } from './pattern.js';

/** The CONNECT fields a uid may come from (mqtt-packet's IConnectPacket fits). */
export interface MqttConnectNames {
  readonly clientId: string;
  readonly username?: string | undefined;
}

/** The `identity.mqtt` rule (the MQTT options carry it with its pattern). */
export interface MqttUidRule {
  readonly source: 'clientId' | 'username' | 'cert';
  readonly anonymous: 'refuse' | 'route';
}

/**
 * A CONNECT that names no uid, when anonymous clients are refused: which source failed, and
 * why. The MQTT edge turns it into the CONNACK reason (0x85 / 0x86 / 0x87).
 */
export interface MqttUidRefusal {
  readonly refused: MqttUidRule['source'];
  readonly message: string;
}

/** The subject-CN reader per compiled MQTT pattern: built once, not per CONNECT. */
const cnReaders = new WeakMap<RegExp, CertUidReader>();

function cnReader(pattern: RegExp): CertUidReader {
  let r = cnReaders.get(pattern);
  if (r === undefined) {
    r = certReader('cn', pattern, null);
    cnReaders.set(pattern, r);
  }
  return r;
}

function fromName(pattern: RegExp, value: string | undefined): string | null {
  if (value === undefined || value.includes('\uFFFD')) return null;
  return pickUid(pattern, value);
}

/**
 * @param pattern the compiled `identity.mqtt.pattern` (src/identity/pattern.ts)
 * @param certUid the gateway's `identity.certUid` rule, when configured
 * @returns the identity, or why the connection names none
 */
export function identifyMqtt(
  names: MqttConnectNames,
  socket: Socket,
  config: MqttUidRule,
  pattern: RegExp,
  certUid?: CertUidReader,
): Identity | MqttUidRefusal {
  let uid: string | null;
  let source: Identity['source'];
  switch (config.source) {
    case 'clientId':
      source = 'mqtt-client-id';
      uid = fromName(pattern, names.clientId);
      break;
    case 'username':
      source = 'mqtt-username';
      uid = fromName(pattern, names.username);
      break;
    case 'cert':
      source = 'cert';
      uid = socket instanceof TLSSocket ? (certUid ?? cnReader(pattern))(socket) : null;
      break;
  }
  if (uid !== null) return { uid, source };
  if (config.anonymous === 'route') return ANONYMOUS;
  switch (config.source) {
    case 'clientId':
      return { refused: 'clientId', message: 'client id does not carry a uid' };
    case 'username':
      return { refused: 'username', message: 'user name does not carry a uid' };
    case 'cert':
      return {
        refused: 'cert',
        message:
          socket instanceof TLSSocket && socket.authorized
            ? 'client certificate does not carry a uid'
            : 'no verified client certificate',
      };
  }
}
