/**
 * Errors of the MQTT edge. Each carries a stable `ZG_ERR_MQTT_*` code and the MQTT 5 reason
 * code a client sees (MQTT 5 §2.4); `v4ReturnCode` in connack.ts maps it for 3.1.1 clients.
 * Every code is listed in docs/errors.md.
 */
import { ZonegateError } from '../core/errors.js';
import type { MqttUidRefusal } from '../identity/index.js';

/** The options given to the MQTT server are invalid; `option` names the bad one. */
export class MqttOptionsError extends ZonegateError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('ZG_ERR_MQTT_OPTIONS_INVALID', `invalid mqtt option ${option}: ${message}`);
    this.option = option;
  }
}

/** A packet could not be decoded or broke the framing rules (0x81 Malformed Packet, §4.13). */
export class MqttMalformedPacketError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_MQTT_MALFORMED', message, { mqttReasonCode: 0x81, cause });
  }
}

/** A well-formed packet that is not allowed here (0x82 Protocol Error, §4.13). */
export class MqttProtocolError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_MQTT_PROTOCOL', message, { mqttReasonCode: 0x82 });
  }
}

/** Remaining length above the configured maximum (0x95 Packet Too Large). */
export class MqttPacketTooLargeError extends ZonegateError {
  constructor(size: number, max: number) {
    super('ZG_ERR_MQTT_PACKET_TOO_LARGE', `packet of ${size} bytes exceeds the limit of ${max}`, {
      mqttReasonCode: 0x95,
    });
  }
}

/** CONNECT protocol level other than 3, 4 or 5 (0x84 Unsupported Protocol Version, §3.1.2.2). */
export class MqttUnsupportedProtocolError extends ZonegateError {
  constructor(level: number) {
    super('ZG_ERR_MQTT_UNSUPPORTED_PROTOCOL', `unsupported MQTT protocol level ${level}`, {
      mqttReasonCode: 0x84,
    });
  }
}

/** No CONNECT within the configured time (§3.1.4: the server may close). */
export class MqttConnectTimeoutError extends ZonegateError {
  constructor(timeoutMs: number) {
    super('ZG_ERR_MQTT_CONNECT_TIMEOUT', `no CONNECT within ${timeoutMs} ms`, { mqttReasonCode: 0x8d });
  }
}

/** The client id does not yield a uid by the configured pattern (0x85 Client Identifier not valid). */
export class MqttClientIdInvalidError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_MQTT_CLIENT_ID_INVALID', message, { mqttReasonCode: 0x85 });
  }
}

/** The user name does not yield a uid by the configured pattern (0x86 Bad User Name or Password). */
export class MqttBadUsernameError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_MQTT_BAD_USERNAME', message, { mqttReasonCode: 0x86 });
  }
}

/** The uid comes from the client certificate and there is none, or it carries no uid (0x87). */
export class MqttNotAuthorizedError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_MQTT_NOT_AUTHORIZED', message, { mqttReasonCode: 0x87 });
  }
}

/** The CONNACK error for a connection src/identity found no uid in (per source: 0x85 / 0x86 / 0x87). */
export function uidRefusalError(r: MqttUidRefusal): ZonegateError {
  switch (r.refused) {
    case 'clientId':
      return new MqttClientIdInvalidError(r.message);
    case 'username':
      return new MqttBadUsernameError(r.message);
    case 'cert':
      return new MqttNotAuthorizedError(r.message);
  }
}

/** Enhanced authentication (MQTT 5 §4.12) cannot be replayed on migration (0x8C). */
export class MqttBadAuthMethodError extends ZonegateError {
  constructor() {
    super('ZG_ERR_MQTT_BAD_AUTH_METHOD', 'enhanced authentication (AUTH) is not supported', {
      mqttReasonCode: 0x8c,
    });
  }
}

/** The gateway is at its connection limit (0x89 Server busy). */
export class MqttServerBusyError extends ZonegateError {
  constructor(max: number) {
    super('ZG_ERR_MQTT_SERVER_BUSY', `connection limit of ${max} reached`, { mqttReasonCode: 0x89 });
  }
}

/** Every broker of the chosen zone refused or timed out (0x88 Server unavailable). */
export class MqttUpstreamUnavailableError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_MQTT_UPSTREAM_UNAVAILABLE', message, { mqttReasonCode: 0x88, cause });
  }
}

/** A topic name or filter is empty, too long or too deep (0x90 Topic Name invalid / 0x8F). */
export class MqttTopicInvalidError extends ZonegateError {
  constructor(message: string, filter = false) {
    super('ZG_ERR_MQTT_TOPIC_INVALID', message, { mqttReasonCode: filter ? 0x8f : 0x90 });
  }
}

/** The client or the broker went silent past 1.5 x keepalive (0x8D Keep Alive timeout, §3.1.2.10). */
export class MqttKeepAliveTimeoutError extends ZonegateError {
  constructor(side: 'client' | 'broker', ms: number) {
    super('ZG_ERR_MQTT_KEEPALIVE_TIMEOUT', `${side} silent for ${ms} ms`, { mqttReasonCode: 0x8d });
  }
}

/** A transparent move to another zone's broker failed; the client is told to reconnect (0x9C). */
export class MqttMigrationFailedError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_MQTT_MIGRATION_FAILED', message, { mqttReasonCode: 0x9c, cause });
  }
}
