/**
 * The shape of the `mqtt` config section and of `identity.mqtt` (what the MQTT stage reads).
 * Core owns the types so config validation needs nothing from src/mqtt; the defaults and the
 * one-time validation live with the stage (src/mqtt/options.ts). Every duration is in ms,
 * every size in bytes.
 */

export type UidSource = 'clientId' | 'username' | 'cert';
export type MigrationModeConfig = 'transparent' | 'disconnect';
export type DisconnectReasonConfig = 'use-another-server' | 'server-moved';

export interface MqttUidConfig {
  /** Where the uid is read from. `cert`: the TLS client certificate (mqtts listeners with requestCert). */
  readonly source: UidSource;
  /** Regex (u flag) with at most one capturing group: the uid is that group, else the whole match (src/identity/pattern.ts). */
  readonly pattern: string;
  /** Clients without a uid: refused (CONNACK 0x85/0x86/0x87) or routed as anonymous traffic. */
  readonly anonymous: 'refuse' | 'route';
}

export interface MqttLimitsConfig {
  /** Open client connections per gateway process; beyond it CONNACK 0x89 "Server busy". */
  readonly maxConnections: number;
  /** Largest packet (fixed header included) either side may send; larger closes with 0x95. */
  readonly maxPacketBytes: number;
  /** Bytes a client may send before its CONNECT is complete (bounds unauthenticated input). */
  readonly maxConnectBytes: number;
  readonly maxTopicBytes: number;
  /** Topic levels ("a/b/c" has 3). */
  readonly maxTopicLevels: number;
  /** Unacknowledged QoS 1/2 packets per direction; reading pauses at this many. */
  readonly inflightWindow: number;
  /** Topic filters kept per client for re-subscribing on migration. */
  readonly maxSubscriptions: number;
  /** Messages taken from one old session after a move; beyond it the drain is abandoned. */
  readonly migrationDrainMessages: number;
  /**
   * Sessions being opened at one broker at once (TCP connect through CONNACK), per gateway
   * process; the rest wait their turn. Keeps a reconnect storm inside the broker's accept queue.
   */
  readonly brokerConnectsInFlight: number;
}

export interface MqttTimeoutsConfig {
  /** From TCP/TLS accept to a complete CONNECT. */
  readonly connectTimeoutMs: number;
  /** To reach a broker and get its CONNACK (per broker tried). */
  readonly upstreamConnectTimeoutMs: number;
  /** A broker silent this long is sent a PINGREQ by the gateway. */
  readonly upstreamPingIntervalMs: number;
  /** A broker that stays silent this long after a PINGREQ is dead. */
  readonly upstreamResponseTimeoutMs: number;
  /** A transparent move (CONNECT, CONNACK, re-SUBSCRIBE, SUBACK at the new broker) must finish within this. */
  readonly migrationTimeoutMs: number;
  /** After the gateway's DISCONNECT ends a drained old session, its connection is closed within this. */
  readonly migrationLingerMs: number;
  /**
   * An old session is drained until its broker has delivered nothing for this long and the
   * client acknowledged everything it delivered (then it is unsubscribed, and the same again).
   */
  readonly migrationDrainQuietMs: number;
  /** A drain of an old session is abandoned (counted, with the reason) after this long. */
  readonly migrationDrainMaxMs: number;
}

export interface MqttMigrationConfig {
  /** `transparent`: move the session under the client; `disconnect`: tell it to reconnect. */
  readonly mode: MigrationModeConfig;
  /** Moves started per second by this gateway process (token bucket with jitter). */
  readonly movesPerSecond: number;
  /** Connections of a zone set to `drain` are moved at random times within this window. */
  readonly drainWindowMs: number;
  /** MQTT 5 DISCONNECT reason when a client must reconnect: 0x9C or 0x9D. */
  readonly disconnectReason: DisconnectReasonConfig;
  /** Server Reference property (MQTT 5 §4.11) sent with that DISCONNECT, when set. */
  readonly serverReference?: string;
}

export interface MqttConfig {
  readonly uid: MqttUidConfig;
  readonly limits: MqttLimitsConfig;
  readonly timeouts: MqttTimeoutsConfig;
  readonly migration: MqttMigrationConfig;
}

/** The top-level `mqtt` config section; the uid rule lives in `identity.mqtt` (docs/design.md "Config"). */
export type MqttSectionConfig = Omit<MqttConfig, 'uid'>;
