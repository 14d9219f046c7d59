/**
 * Who an MQTT connection belongs to (docs/design.md "MQTT"): the uid from the CONNECT client id or
 * user name by the configured pattern, or from the TLS client certificate's subject CN.
 */
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { ZonegateError } from '../core/errors.js';
import type { Identity } from '../router/index.js';
import { MqttBadUsernameError, MqttClientIdInvalidError, MqttNotAuthorizedError } from './errors.js';
import type { ClientConnect } from './connect.js';
import type { MqttUidConfig } from './options.js';

const ANONYMOUS: Identity = Object.freeze({ uid: null, source: 'none' });

function match(regex: RegExp, value: string): string | null {
  const m = regex.exec(value);
  if (m === null) return null;
  const uid = m.groups?.uid ?? m[0];
  return uid === '' ? null : uid;
}

/** Subject CN of a verified client certificate, or null. */
export function certCommonName(socket: Socket): string | null {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  const cn = (cert.subject as { CN?: string | string[] } | undefined)?.CN;
  if (typeof cn === 'string') return cn;
  return Array.isArray(cn) && typeof cn[0] === 'string' ? cn[0] : null;
}

/** Reads the uid of a verified client certificate (src/identity certUidReader fits). */
export type CertUidReader = (socket: TLSSocket) => string | null;

/**
 * `certUid`, when given, is the gateway's configured certificate rule (`identity.certUid`,
 * shared with HTTP) and its answer is the uid; without it the subject CN goes through `regex`.
 */
export function identify(
  c: ClientConnect,
  socket: Socket,
  config: MqttUidConfig,
  regex: RegExp,
  certUid?: CertUidReader,
): Identity | ZonegateError {
  let uid: string | null = null;
  let source: Identity['source'];
  let value: string | null;
  switch (config.source) {
    case 'clientId':
      source = 'mqtt-client-id';
      value = c.packet.clientId;
      break;
    case 'username':
      source = 'mqtt-username';
      value = c.packet.username ?? null;
      break;
    case 'cert':
      source = 'cert';
      if (certUid !== undefined && socket instanceof TLSSocket) {
        value = certUid(socket);
        uid = value;
      } else {
        value = certCommonName(socket);
      }
      break;
  }
  if (value !== null && uid === null) uid = match(regex, value);
  if (uid !== null) return { uid, source };
  if (config.anonymous === 'route') return ANONYMOUS;
  switch (config.source) {
    case 'clientId':
      return new MqttClientIdInvalidError('client id does not carry a uid');
    case 'username':
      return new MqttBadUsernameError('user name does not carry a uid');
    case 'cert':
      return new MqttNotAuthorizedError(
        value === null ? 'no verified client certificate' : 'client certificate does not carry a uid',
      );
  }
}
