import type { ParseArgsConfig } from 'node:util';
import type { OptionValues } from '../core/args.js';
import { optionalString } from '../core/args.js';
import type { RedisStoreConfig, RedisTlsConfig } from '../core/redis-config.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Credentials and TLS for the store flags (--redis, --sentinels, --cluster): the same fields as
 * the config's `zonemap.redis`. Secrets come from files, never from the command line (it
 * shows in `ps` and shell history).
 */
export const REDIS_AUTH_OPTIONS: Options = {
  'redis-user': { type: 'string' },
  'redis-password-file': { type: 'string' },
  'redis-tls': { type: 'boolean' },
  'redis-tls-ca': { type: 'string' },
  'redis-tls-cert': { type: 'string' },
  'redis-tls-key': { type: 'string' },
  'redis-tls-servername': { type: 'string' },
  'sentinel-user': { type: 'string' },
  'sentinel-password-file': { type: 'string' },
};

export const REDIS_AUTH_USAGE =
  '[--redis-user U] [--redis-password-file F] [--redis-tls] [--redis-tls-ca F] [--redis-tls-cert F --redis-tls-key F] ' +
  '[--redis-tls-servername N] [--sentinel-user U] [--sentinel-password-file F]';

type RedisAuthFields = Pick<
  RedisStoreConfig,
  'username' | 'passwordFile' | 'tls' | 'sentinelUsername' | 'sentinelPasswordFile'
>;

export function redisAuthFrom(values: OptionValues): RedisAuthFields {
  const s = (name: string): string | undefined => optionalString(values, name);
  const ca = s('redis-tls-ca');
  const cert = s('redis-tls-cert');
  const key = s('redis-tls-key');
  const servername = s('redis-tls-servername');
  const anyTls = values['redis-tls'] === true || [ca, cert, key, servername].some((v) => v !== undefined);
  const tls: RedisTlsConfig = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(servername === undefined ? {} : { servername }),
  };
  const username = s('redis-user');
  const passwordFile = s('redis-password-file');
  const sentinelUsername = s('sentinel-user');
  const sentinelPasswordFile = s('sentinel-password-file');
  return {
    ...(username === undefined ? {} : { username }),
    ...(passwordFile === undefined ? {} : { passwordFile }),
    ...(anyTls ? { tls } : {}),
    ...(sentinelUsername === undefined ? {} : { sentinelUsername }),
    ...(sentinelPasswordFile === undefined ? {} : { sentinelPasswordFile }),
  };
}
