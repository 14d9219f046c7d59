/**
 * Cookie values whose HMAC already checked out, so a returning browser's next requests skip
 * the async WebCrypto verify. Keyed by the whole value (which includes the MAC), so a cached
 * entry can only be hit by the exact bytes that were verified. Bounded; oldest out first.
 */
import type { Identity } from '../router/index.js';

export interface VerifiedCookie {
  /** The identity the cookie stands for, built once: a cache hit allocates nothing. */
  readonly identity: Identity;
  readonly issuedAtSec: number;
}

export class VerifiedCookieCache {
  readonly #max: number;
  readonly #entries = new Map<string, VerifiedCookie>();

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The claims if cached and not older than maxAgeSec; an expired entry is dropped. */
  get(value: string, nowSec: number, maxAgeSec: number): VerifiedCookie | undefined {
    const e = this.#entries.get(value);
    if (e === undefined) return undefined;
    if (nowSec - e.issuedAtSec > maxAgeSec) {
      this.#entries.delete(value);
      return undefined;
    }
    return e;
  }

  set(value: string, claims: VerifiedCookie): void {
    if (this.#max === 0) return;
    if (this.#entries.size >= this.#max) {
      // Map iterates in insertion order: the first key is the oldest.
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(value, claims);
  }

  clear(): void {
    this.#entries.clear();
  }
}
