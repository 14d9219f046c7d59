/**
 * The `mqtt` config section (policies/config.schema.json mirrors these defaults; a test keeps
 * them equal) and its one-time validation. Every duration is in ms, every size in bytes.
 */
import { uidPatternProblem } from '../identity/pattern.js';
import type {
  MqttUidConfig,
  MqttLimitsConfig,
  MqttTimeoutsConfig,
  MqttMigrationConfig,
  MqttConfig,
} from '../core/mqtt-config.js';
import { MqttOptionsError } from './errors.js';

export const DEFAULT_MQTT_CONFIG: MqttConfig = deepFreeze({
  uid: { source: 'clientId', pattern: '^(?<uid>[0-9]{1,20})(?:[-_:.].*)?$', anonymous: 'refuse' },
  limits: {
    maxConnections: 100_000,
    maxPacketBytes: 256 * 1024,
    maxConnectBytes: 8 * 1024,
    maxTopicBytes: 512,
    maxTopicLevels: 16,
    inflightWindow: 64,
    maxSubscriptions: 256,
    migrationDrainMessages: 10_000,
    brokerConnectsInFlight: 64,
  },
  timeouts: {
    connectTimeoutMs: 10_000,
    upstreamConnectTimeoutMs: 5_000,
    upstreamPingIntervalMs: 60_000,
    upstreamResponseTimeoutMs: 10_000,
    migrationTimeoutMs: 10_000,
    migrationLingerMs: 2_000,
    migrationDrainQuietMs: 500,
    migrationDrainMaxMs: 30_000,
  },
  migration: {
    mode: 'transparent',
    movesPerSecond: 500,
    drainWindowMs: 60_000,
    disconnectReason: 'use-another-server',
  },
} satisfies MqttConfig);

/** Partial input: any field left out takes its default. */
export interface MqttConfigInput {
  readonly uid?: Partial<MqttUidConfig>;
  readonly limits?: Partial<MqttLimitsConfig>;
  readonly timeouts?: Partial<MqttTimeoutsConfig>;
  readonly migration?: Partial<MqttMigrationConfig>;
}

/** The validated, frozen config plus its compiled uid regex. */
export interface ResolvedMqttConfig extends MqttConfig {
  readonly uidRegex: RegExp;
}

function int(path: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new MqttOptionsError(path, `expected an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

function oneOf<T extends string>(path: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new MqttOptionsError(path, `expected one of ${allowed.join(', ')}, got ${String(v)}`);
  }
  return v as T;
}

/** Merge defaults, check every option once, freeze. Throws MqttOptionsError naming the bad option. */
export function resolveMqttConfig(input: MqttConfigInput = {}): ResolvedMqttConfig {
  const d = DEFAULT_MQTT_CONFIG;
  const u = { ...d.uid, ...input.uid };
  const l = { ...d.limits, ...input.limits };
  const t = { ...d.timeouts, ...input.timeouts };
  const m = { ...d.migration, ...input.migration };
  oneOf('uid.source', u.source, ['clientId', 'username', 'cert'] as const);
  oneOf('uid.anonymous', u.anonymous, ['refuse', 'route'] as const);
  if (typeof u.pattern !== 'string' || u.pattern.length === 0) {
    throw new MqttOptionsError('uid.pattern', 'expected a non-empty regex');
  }
  // The identity config's one pattern convention (src/identity/pattern.ts).
  const problem = uidPatternProblem(u.pattern);
  if (problem !== null) throw new MqttOptionsError('uid.pattern', problem);
  const uidRegex = new RegExp(u.pattern, 'u');
  int('limits.maxConnections', l.maxConnections, 1, 10_000_000);
  // A packet must at least hold a CONNECT; the Variable Byte Integer caps it (§1.5.5).
  int('limits.maxPacketBytes', l.maxPacketBytes, 64, 268_435_460);
  int('limits.maxConnectBytes', l.maxConnectBytes, 64, 268_435_460);
  int('limits.maxTopicBytes', l.maxTopicBytes, 1, 65_535);
  int('limits.maxTopicLevels', l.maxTopicLevels, 1, 65_535);
  // Packet identifiers are 16-bit and the gateway needs spare ones (§2.2.1).
  int('limits.inflightWindow', l.inflightWindow, 1, 32_768);
  int('limits.maxSubscriptions', l.maxSubscriptions, 0, 100_000);
  int('limits.migrationDrainMessages', l.migrationDrainMessages, 0, 10_000_000);
  int('limits.brokerConnectsInFlight', l.brokerConnectsInFlight, 1, 1_000_000);
  int('timeouts.connectTimeoutMs', t.connectTimeoutMs, 10, 3_600_000);
  int('timeouts.upstreamConnectTimeoutMs', t.upstreamConnectTimeoutMs, 10, 3_600_000);
  int('timeouts.upstreamPingIntervalMs', t.upstreamPingIntervalMs, 10, 3_600_000);
  int('timeouts.upstreamResponseTimeoutMs', t.upstreamResponseTimeoutMs, 10, 3_600_000);
  int('timeouts.migrationTimeoutMs', t.migrationTimeoutMs, 10, 3_600_000);
  int('timeouts.migrationLingerMs', t.migrationLingerMs, 0, 3_600_000);
  int('timeouts.migrationDrainQuietMs', t.migrationDrainQuietMs, 10, 3_600_000);
  int('timeouts.migrationDrainMaxMs', t.migrationDrainMaxMs, 10, 3_600_000);
  oneOf('migration.mode', m.mode, ['transparent', 'disconnect'] as const);
  int('migration.movesPerSecond', m.movesPerSecond, 1, 1_000_000);
  int('migration.drainWindowMs', m.drainWindowMs, 0, 86_400_000);
  oneOf('migration.disconnectReason', m.disconnectReason, ['use-another-server', 'server-moved'] as const);
  if (
    m.serverReference !== undefined &&
    (typeof m.serverReference !== 'string' || m.serverReference === '')
  ) {
    throw new MqttOptionsError('migration.serverReference', 'expected a non-empty string');
  }
  return deepFreeze({ uid: u, limits: l, timeouts: t, migration: m, uidRegex });
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !(o instanceof RegExp)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
