import type { ParseArgsConfig } from 'node:util';
import { InvalidConfigError, UsageError } from '../core/errors.js';
import type { OptionValues } from '../core/args.js';
import { flag, optionalString } from '../core/args.js';
// Light imports only: every CLI command loads this file for its option table, and the
// config loader, ioredis and the store are imported when a command actually opens a store.
import { checkRedisStoreConfig, parseHostPortList, type RedisStoreConfig } from '../core/redis-config.js';
import type { ZoneMapStore } from '../zonemap/stores/store.js';
import { DEFAULT_MAX_MOVE_PERCENT } from './guard-rails.js';
import { REDIS_AUTH_OPTIONS, REDIS_AUTH_USAGE, redisAuthFrom } from './redis-auth-options.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Where the shared zone map is: every store command takes these. */
export const STORE_OPTIONS: Options = {
  map: { type: 'string' },
  redis: { type: 'string' },
  sentinels: { type: 'string' },
  'sentinel-name': { type: 'string' },
  cluster: { type: 'string' },
  'key-prefix': { type: 'string' },
  config: { type: 'string', short: 'c' },
  ...REDIS_AUTH_OPTIONS,
};

export const STORE_USAGE = `(--map FILE | --redis URL | --sentinels H:P,... --sentinel-name NAME | --cluster H:P,... | -c CONFIG) [--key-prefix P] ${REDIS_AUTH_USAGE}`;

/** Every command that writes takes these as well. */
export const CHANGE_OPTIONS: Options = {
  reason: { type: 'string' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  'max-move-percent': { type: 'string' },
  json: { type: 'boolean' },
};

export const CHANGE_USAGE = '[--reason TEXT] [--dry-run] [--force] [--max-move-percent N] [--json]';

/** The store the options name: a map file on this host, or Redis shared by a fleet. */
export type StoreChoice =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'redis'; readonly redis: RedisStoreConfig };

/**
 * The store from the options (--map, or --redis / --sentinels / --cluster), else the gateway
 * config's `zonemap.file` or `zonemap.redis` (-c), else the ZONEGATE_REDIS_URL environment
 * variable.
 */
export async function storeChoiceFrom(values: OptionValues): Promise<StoreChoice> {
  const keyPrefix = optionalString(values, 'key-prefix');
  const mapFile = optionalString(values, 'map');
  const url = optionalString(values, 'redis');
  const sentinels = optionalString(values, 'sentinels');
  const cluster = optionalString(values, 'cluster');
  const configFile = optionalString(values, 'config');
  const redisFlags = url !== undefined || sentinels !== undefined || cluster !== undefined;
  if (mapFile !== undefined) {
    if (redisFlags || configFile !== undefined)
      throw new UsageError('name one store: --map FILE, or Redis (--redis, --sentinels, --cluster), or -c');
    if (mapFile === '') throw new UsageError('--map needs a file name');
    if (keyPrefix !== undefined) throw new UsageError('--key-prefix is for a Redis store, not --map');
    return { kind: 'file', path: mapFile };
  }
  let cfg: RedisStoreConfig;
  if (redisFlags) {
    const sentinelList = sentinels === undefined ? undefined : parseHostPortList(sentinels);
    const clusterList = cluster === undefined ? undefined : parseHostPortList(cluster);
    if (sentinelList === null)
      throw new UsageError(`--sentinels wants host:port,host:port (got '${sentinels}')`);
    if (clusterList === null) throw new UsageError(`--cluster wants host:port,host:port (got '${cluster}')`);
    const name = optionalString(values, 'sentinel-name');
    cfg = {
      ...(url === undefined ? {} : { url }),
      ...(sentinelList === undefined ? {} : { sentinels: sentinelList }),
      ...(name === undefined ? {} : { name }),
      ...(clusterList === undefined ? {} : { cluster: clusterList }),
      ...redisAuthFrom(values),
    };
  } else if (configFile !== undefined) {
    const { loadConfigFile } = await import('../core/config.js');
    const gw = await loadConfigFile(configFile);
    if (gw.zonemap.file !== undefined) {
      if (keyPrefix !== undefined)
        throw new UsageError(`--key-prefix is for a Redis store; ${configFile} follows a file`);
      // loadConfigFile resolved it against the config's folder, as the gateway does.
      return { kind: 'file', path: gw.zonemap.file };
    }
    if (gw.zonemap.redis === undefined) throw new UsageError(`${configFile} names no zonemap store`);
    cfg = gw.zonemap.redis;
  } else if (process.env['ZONEGATE_REDIS_URL'] !== undefined && process.env['ZONEGATE_REDIS_URL'] !== '') {
    cfg = { url: process.env['ZONEGATE_REDIS_URL'], ...redisAuthFrom(values) };
  } else {
    throw new UsageError(
      'say where the zone map is: --map FILE, --redis URL, --sentinels, --cluster, -c CONFIG or ZONEGATE_REDIS_URL',
    );
  }
  if (keyPrefix !== undefined) cfg = { ...cfg, keyPrefix };
  const problems = checkRedisStoreConfig(cfg, 'options');
  if (problems.length > 0) throw new InvalidConfigError(problems, 'store options');
  return { kind: 'redis', redis: cfg };
}

/** The Redis store from the options; a usage error when they name a map file instead. */
export async function storeConfigFrom(values: OptionValues): Promise<RedisStoreConfig> {
  const choice = await storeChoiceFrom(values);
  if (choice.kind === 'file')
    throw new UsageError(`this needs the Redis store; ${choice.path} is a map file`);
  return choice.redis;
}

/** Opens the store the options name (see storeChoiceFrom); the caller closes it. */
export async function openStoreFrom(values: OptionValues): Promise<ZoneMapStore> {
  const choice = await storeChoiceFrom(values);
  if (choice.kind === 'file') {
    const { FileZoneMapStore } = await import('../zonemap/stores/file-store.js');
    return FileZoneMapStore.open(choice.path);
  }
  const { RedisZoneMapStore } = await import('../zonemap/stores/redis-store.js');
  return RedisZoneMapStore.open(choice.redis, 'zonegate-cli');
}

export interface ChangeFlags {
  readonly reason: string;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly maxMovePercent: number;
  /** Print the prepared change as JSON instead of the report (drill scripts parse it). */
  readonly json: boolean;
}

export function changeFlagsFrom(values: OptionValues): ChangeFlags {
  const max = optionalString(values, 'max-move-percent');
  const maxMovePercent = max === undefined ? DEFAULT_MAX_MOVE_PERCENT : Number(max);
  if (!Number.isFinite(maxMovePercent) || maxMovePercent < 0 || maxMovePercent > 100) {
    throw new UsageError(`--max-move-percent must be a number from 0 to 100 (got '${max}')`);
  }
  return {
    reason: optionalString(values, 'reason') ?? '',
    dryRun: flag(values, 'dry-run'),
    force: flag(values, 'force'),
    maxMovePercent,
    json: flag(values, 'json'),
  };
}

/** Comma-separated list option; an empty string means "the empty list". */
export function listOption(values: OptionValues, name: string): string[] | undefined {
  const v = optionalString(values, name);
  if (v === undefined) return undefined;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
