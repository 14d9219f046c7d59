/**
 * The Redis zone map store's config (`zonemap.redis` in the gateway config, and the drill
 * commands' `--redis*` options): its shape, defaults and cross-field checks. It lives in core
 * because config validation needs it and core imports no other folder; the store
 * (src/zonemap/stores/) reads it from here.
 */
import type { Problem } from './errors.js';

/** Every key of a deployment starts with `{prefix}`; see src/zonemap/stores/redis-keys.ts. */
export const DEFAULT_KEY_PREFIX = 'zonegate';
const PREFIX_PATTERN = /^[A-Za-z0-9_.-]+$/;

export function isValidKeyPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

export interface RedisHostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Where the shared zone map lives: exactly one of `url` (single server), `sentinels` with
 * `name` (Sentinel-managed primary), or `cluster` (seed nodes). Same shape as the gateway
 * config's `zonemap.redis`; the optional fields take the defaults below.
 */
export interface RedisStoreConfig {
  readonly url?: string;
  readonly sentinels?: readonly RedisHostPort[];
  readonly name?: string;
  readonly cluster?: readonly RedisHostPort[];
  readonly keyPrefix?: string;
  readonly snapshotFile?: string;
  readonly pollIntervalMs?: number;
  readonly reportIntervalMs?: number;
  readonly connectTimeoutMs?: number;
  /** Redis 6 ACL user (`AUTH username password`); without it the password is the `default` user's. */
  readonly username?: string;
  /** File holding the password, so the secret never sits in the config (or a ConfigMap). */
  readonly passwordFile?: string;
  /** TLS to Redis (every node of a Cluster, the primary of a Sentinel setup, and the sentinels). */
  readonly tls?: RedisTlsConfig;
  /** Sentinels' own ACL user and password file, when they require AUTH. */
  readonly sentinelUsername?: string;
  readonly sentinelPasswordFile?: string;
}

/** PEM files; `cert` and `key` together are the client certificate (Redis `tls-auth-clients`). */
export interface RedisTlsConfig {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** Name checked against the server certificate (and sent as SNI) when it differs from the host. */
  readonly servername?: string;
}

/** Defaults, in one place (the config schema repeats them for documentation). */
export const REDIS_DEFAULTS = Object.freeze({
  keyPrefix: DEFAULT_KEY_PREFIX,
  // The poll is only a safety net behind pub/sub and the reconnect read.
  pollIntervalMs: 1000,
  reportIntervalMs: 5000,
  connectTimeoutMs: 2000,
});

/** The cross-field rules a JSON Schema cannot say; empty when the config is usable. */
export function checkRedisStoreConfig(cfg: RedisStoreConfig, path = 'zonemap.redis'): Problem[] {
  const problems: Problem[] = [];
  const modes = [cfg.url, cfg.sentinels, cfg.cluster].filter((m) => m !== undefined).length;
  if (modes !== 1) {
    problems.push({ path, message: 'set exactly one of url, sentinels (with name) or cluster' });
  }
  if (cfg.sentinels !== undefined && cfg.name === undefined) {
    problems.push({ path: `${path}.name`, message: 'is required with sentinels (the master name)' });
  }
  if (cfg.name !== undefined && cfg.sentinels === undefined) {
    problems.push({ path: `${path}.name`, message: 'only applies with sentinels' });
  }
  if (cfg.url !== undefined && !/^rediss?:\/\/./.test(cfg.url)) {
    problems.push({ path: `${path}.url`, message: `"${cfg.url}" is not a redis:// or rediss:// URL` });
  }
  if (cfg.url !== undefined && cfg.passwordFile !== undefined && /^rediss?:\/\/[^/]*:[^/]*@/.test(cfg.url)) {
    problems.push({
      path: `${path}.passwordFile`,
      message:
        'the url already holds a password: set it in one place (passwordFile keeps it out of the config)',
    });
  }
  if (cfg.sentinels === undefined) {
    for (const k of ['sentinelUsername', 'sentinelPasswordFile'] as const) {
      if (cfg[k] !== undefined)
        problems.push({ path: `${path}.${k}`, message: 'only applies with sentinels' });
    }
  }
  if ((cfg.tls?.cert === undefined) !== (cfg.tls?.key === undefined)) {
    problems.push({
      path: `${path}.tls`,
      message: 'set both cert and key (the client certificate), or neither',
    });
  }
  if (cfg.keyPrefix !== undefined && !isValidKeyPrefix(cfg.keyPrefix)) {
    problems.push({ path: `${path}.keyPrefix`, message: 'may only hold letters, digits, "_", "." and "-"' });
  }
  return problems;
}

/** "10.0.0.1:26379,10.0.0.2:26379" → host/port pairs; null when any item is malformed. */
export function parseHostPortList(text: string): RedisHostPort[] | null {
  const out: RedisHostPort[] = [];
  for (const item of text.split(',')) {
    const m = /^\s*([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*$/.exec(item);
    if (m?.[1] === undefined || m[2] === undefined) return null;
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return null;
    out.push({ host: m[1].replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

/** A short, password-free description for logs and CLI output. */
export function describeRedisStore(cfg: RedisStoreConfig): string {
  const prefix = cfg.keyPrefix ?? REDIS_DEFAULTS.keyPrefix;
  if (cfg.url !== undefined) {
    let where = cfg.url;
    try {
      const u = new URL(cfg.url);
      // The user name is no secret and tells an operator which ACL user is in play.
      u.password = '';
      where = u.toString();
    } catch {
      // keep the raw text; validation reports it
    }
    return `${where}${auth(cfg)} (prefix ${prefix})`;
  }
  if (cfg.sentinels !== undefined) {
    return `sentinel ${cfg.name ?? '?'} via ${cfg.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}${auth(cfg)} (prefix ${prefix})`;
  }
  return `cluster ${(cfg.cluster ?? []).map((s) => `${s.host}:${s.port}`).join(',')}${auth(cfg)} (prefix ${prefix})`;
}

/** How we authenticate, without the secret: ` as user app, tls`. */
function auth(cfg: RedisStoreConfig): string {
  const parts = [
    ...(cfg.username === undefined ? [] : [`as user ${cfg.username}`]),
    ...(cfg.tls === undefined ? [] : ['tls']),
  ];
  return parts.length === 0 ? '' : ` ${parts.join(', ')}`;
}
