import { readFile } from 'node:fs/promises';
import type { CookieConfig } from '../core/config.js';
import { CookieKeyring } from './cookie.js';
import { CookieKeyError } from './cookie.js';

/** Build the keyring from config, reading `secretFile`s; null when no keys are configured. */
export async function loadCookieKeyring(cfg: CookieConfig): Promise<CookieKeyring | null> {
  if (cfg.keys.length === 0) return null;
  const keys: { id: string; secret: string }[] = [];
  for (const k of cfg.keys) {
    let secret = k.secret;
    if (secret === undefined && k.secretFile !== undefined) {
      try {
        // Trailing newline from `echo`/editors is not part of the secret.
        secret = (await readFile(k.secretFile, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new CookieKeyError(
          `cookie key ${k.id}: cannot read ${k.secretFile}: ${(err as Error).message}`,
        );
      }
    }
    keys.push({ id: k.id, secret: secret ?? '' });
  }
  return CookieKeyring.create(keys);
}
