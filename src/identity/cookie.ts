import { webcrypto } from 'node:crypto';
import { ZonegateError } from '../core/errors.js';

/**
 * The `ldc` zone cookie (docs/design.md "Cookie"): uid, zone, issue time and key id, signed with
 * HMAC-SHA256 through WebCrypto. Wire form, all in the base64url alphabet plus dots:
 *
 *   <keyId>.<issuedAtSec>.<zone>.<base64url(uid)>.<base64url(mac)>
 *
 * where mac = HMAC(key[keyId], "<keyId>.<issuedAtSec>.<zone>.<base64url(uid)>"). The uid is
 * base64url-encoded because uids may hold any character, and a cookie value may not.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const B64U = /^[A-Za-z0-9_-]+$/;
const DIGITS = /^[0-9]{1,12}$/;
/** Browsers keep cookies up to ~4 KB; ours is far smaller, and parsing stops here. */
export const MAX_COOKIE_VALUE_LENGTH = 1024;
const MAX_UID_BYTES = 256;
const MIN_SECRET_BYTES = 16;

export class CookieKeyError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_COOKIE_KEY_INVALID', message, { httpStatus: 500 });
  }
}

export interface CookieKey {
  readonly id: string;
  readonly secret: string;
}

export interface CookieClaims {
  readonly uid: string;
  readonly zone: string;
  readonly issuedAtSec: number;
  readonly keyId: string;
}

export type CookieRejection = 'malformed' | 'unknown-key' | 'bad-signature' | 'expired';

export type CookieVerdict = ({ ok: true } & CookieClaims) | { ok: false; reason: CookieRejection };

interface ParsedCookie extends CookieClaims {
  readonly signed: string;
  readonly mac: Uint8Array;
}

function parse(value: string): ParsedCookie | null {
  if (value.length === 0 || value.length > MAX_COOKIE_VALUE_LENGTH) return null;
  const parts = value.split('.');
  if (parts.length !== 5) return null;
  const [keyId, iat, zone, uid64, mac64] = parts as [string, string, string, string, string];
  if (!NAME.test(keyId) || !DIGITS.test(iat) || !NAME.test(zone) || !B64U.test(uid64) || !B64U.test(mac64)) {
    return null;
  }
  const uidBytes = Buffer.from(uid64, 'base64url');
  if (uidBytes.length === 0 || uidBytes.length > MAX_UID_BYTES) return null;
  const uid = uidBytes.toString('utf8');
  // Round-trip check: refuse non-canonical encodings so one cookie has exactly one form.
  if (Buffer.from(uid, 'utf8').toString('base64url') !== uid64) return null;
  const mac = Buffer.from(mac64, 'base64url');
  if (mac.length !== 32) return null;
  return { keyId, issuedAtSec: Number(iat), zone, uid, signed: `${keyId}.${iat}.${zone}.${uid64}`, mac };
}

/** Reads a cookie's claims without checking its signature: for display only, never for routing. */
export function decodeCookieUnverified(value: string): CookieClaims | null {
  const p = parse(value);
  return p === null ? null : { uid: p.uid, zone: p.zone, issuedAtSec: p.issuedAtSec, keyId: p.keyId };
}

/** Keys that sign and verify zone cookies: the first key signs, every key verifies. */
export class CookieKeyring {
  readonly #keys: ReadonlyMap<string, webcrypto.CryptoKey>;
  readonly #signingId: string;

  private constructor(keys: ReadonlyMap<string, webcrypto.CryptoKey>, signingId: string) {
    this.#keys = keys;
    this.#signingId = signingId;
  }

  static async create(keys: readonly CookieKey[]): Promise<CookieKeyring> {
    if (keys.length === 0) throw new CookieKeyError('the cookie keyring needs at least one key');
    const imported = new Map<string, webcrypto.CryptoKey>();
    for (const k of keys) {
      if (!NAME.test(k.id))
        throw new CookieKeyError(`cookie key id '${k.id}' must be letters, digits, _ and -`);
      if (imported.has(k.id)) throw new CookieKeyError(`cookie key id '${k.id}' is listed twice`);
      const raw = Buffer.from(k.secret, 'utf8');
      if (raw.length < MIN_SECRET_BYTES) {
        throw new CookieKeyError(`cookie key '${k.id}' is shorter than ${MIN_SECRET_BYTES} bytes`);
      }
      imported.set(
        k.id,
        await webcrypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
          'sign',
          'verify',
        ]),
      );
    }
    return new CookieKeyring(imported, keys[0]!.id);
  }

  get signingKeyId(): string {
    return this.#signingId;
  }

  async sign(claims: { uid: string; zone: string; issuedAtSec?: number }): Promise<string> {
    if (!NAME.test(claims.zone)) throw new CookieKeyError(`zone '${claims.zone}' cannot go in a cookie`);
    const uidBytes = Buffer.from(claims.uid, 'utf8');
    if (uidBytes.length === 0 || uidBytes.length > MAX_UID_BYTES) {
      throw new CookieKeyError(`uid must be 1..${MAX_UID_BYTES} bytes to go in a cookie`);
    }
    const iat = claims.issuedAtSec ?? Math.floor(Date.now() / 1000);
    const signed = `${this.#signingId}.${iat}.${claims.zone}.${uidBytes.toString('base64url')}`;
    const key = this.#keys.get(this.#signingId)!;
    const mac = await webcrypto.subtle.sign('HMAC', key, Buffer.from(signed, 'latin1'));
    return `${signed}.${Buffer.from(mac).toString('base64url')}`;
  }

  /**
   * Checks a cookie. Never throws on bad input: a cookie that does not check out is a
   * verdict with a reason (counted by the caller), and the request is treated as anonymous.
   */
  async verify(value: string, nowSec: number, maxAgeSec: number): Promise<CookieVerdict> {
    const p = parse(value);
    if (p === null) return { ok: false, reason: 'malformed' };
    const key = this.#keys.get(p.keyId);
    if (key === undefined) return { ok: false, reason: 'unknown-key' };
    // WebCrypto's verify compares in constant time.
    const good = await webcrypto.subtle.verify('HMAC', key, p.mac, Buffer.from(p.signed, 'latin1'));
    if (!good) return { ok: false, reason: 'bad-signature' };
    // A cookie from the future (clock skew beyond a minute) is as suspect as an old one.
    if (nowSec - p.issuedAtSec > maxAgeSec || p.issuedAtSec - nowSec > 60)
      return { ok: false, reason: 'expired' };
    return { ok: true, uid: p.uid, zone: p.zone, issuedAtSec: p.issuedAtSec, keyId: p.keyId };
  }
}
