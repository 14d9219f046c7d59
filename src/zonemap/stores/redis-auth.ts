/**
 * Redis credentials and TLS material from the files the config names. Read when a client is
 * created (start, reconnect after a config reload, each CLI run), so a rotated password file
 * applies to the next connection; never logged.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { DocumentReadError } from '../../core/errors.js';
import type { RedisStoreConfig } from '../../core/redis-config.js';

export interface RedisAuth {
  readonly username?: string;
  readonly password?: string;
  readonly tls?: ConnectionOptions;
  readonly sentinelUsername?: string;
  readonly sentinelPassword?: string;
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new DocumentReadError(`Redis ${what} ${file}: cannot read: ${(err as Error).message}`, err);
  }
}

/** A secret file's text without its final newline (`echo secret > file` writes one). */
function secret(file: string, what: string): string {
  const text = read(file, what).replace(/\r?\n$/, '');
  if (text === '') throw new DocumentReadError(`Redis ${what} ${file} is empty`);
  return text;
}

/** Throws DocumentReadError naming the file that cannot be read. */
export function readRedisAuth(cfg: RedisStoreConfig): RedisAuth {
  const t = cfg.tls;
  const tls: ConnectionOptions | undefined =
    t === undefined
      ? undefined
      : {
          ...(t.ca === undefined ? {} : { ca: read(t.ca, 'tls.ca') }),
          ...(t.cert === undefined ? {} : { cert: read(t.cert, 'tls.cert') }),
          ...(t.key === undefined ? {} : { key: read(t.key, 'tls.key') }),
          ...(t.servername === undefined ? {} : { servername: t.servername }),
        };
  return {
    ...(cfg.username === undefined ? {} : { username: cfg.username }),
    ...(cfg.passwordFile === undefined ? {} : { password: secret(cfg.passwordFile, 'passwordFile') }),
    ...(tls === undefined ? {} : { tls }),
    ...(cfg.sentinelUsername === undefined ? {} : { sentinelUsername: cfg.sentinelUsername }),
    ...(cfg.sentinelPasswordFile === undefined
      ? {}
      : { sentinelPassword: secret(cfg.sentinelPasswordFile, 'sentinelPasswordFile') }),
  };
}
