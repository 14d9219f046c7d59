/**
 * Who a request belongs to (docs/design.md "Identity order"): the uid header, then a valid zone
 * cookie, then the client certificate (mTLS listeners with `identity.certUid`), else
 * anonymous. Returns synchronously whenever it can: only a cookie not yet in the verified
 * cache costs an async HMAC check.
 */
import type { Identity } from '../router/index.js';
import type { CookieKeyring, CookieRejection } from './cookie.js';
import { VerifiedCookieCache } from './verified-cookie-cache.js';

export const ANONYMOUS: Identity = Object.freeze({ uid: null, source: 'none' });

export interface IdentifierOptions {
  readonly keyring: CookieKeyring | null;
  readonly maxAgeSec: number;
  readonly cacheSize: number;
  readonly uidPattern: RegExp;
  /** Called for every cookie that is present but not trusted (for the metric). */
  readonly onCookieRejected?: (reason: CookieRejection) => void;
}

export class Identifier {
  readonly #o: IdentifierOptions;
  readonly #cache: VerifiedCookieCache;

  constructor(o: IdentifierOptions) {
    this.#o = o;
    this.#cache = new VerifiedCookieCache(o.cacheSize);
  }

  /**
   * @param headerUid value of the uid header, or undefined
   * @param cookieValue value of the zone cookie, or undefined
   * @param certUid uid from the connection's client certificate, or null
   */
  identify(
    headerUid: string | undefined,
    cookieValue: string | undefined,
    certUid: string | null,
  ): Identity | Promise<Identity> {
    if (headerUid !== undefined && headerUid !== '' && this.#o.uidPattern.test(headerUid)) {
      return { uid: headerUid, source: 'header' };
    }
    if (cookieValue !== undefined && cookieValue !== '' && this.#o.keyring !== null) {
      const nowSec = Math.floor(Date.now() / 1000);
      const hit = this.#cache.get(cookieValue, nowSec, this.#o.maxAgeSec);
      if (hit !== undefined) return hit.identity;
      return this.#verify(cookieValue, nowSec, certUid);
    }
    return certUid === null ? ANONYMOUS : { uid: certUid, source: 'cert' };
  }

  async #verify(value: string, nowSec: number, certUid: string | null): Promise<Identity> {
    const v = await this.#o.keyring!.verify(value, nowSec, this.#o.maxAgeSec);
    if (v.ok && this.#o.uidPattern.test(v.uid)) {
      const identity: Identity = Object.freeze({ uid: v.uid, source: 'cookie' });
      this.#cache.set(value, { identity, issuedAtSec: v.issuedAtSec });
      return identity;
    }
    // A cookie that does not check out is ignored, never trusted: route as if it were absent.
    this.#o.onCookieRejected?.(v.ok ? 'malformed' : v.reason);
    return certUid === null ? ANONYMOUS : { uid: certUid, source: 'cert' };
  }
}
