/**
 * The order a session tries its zone's brokers in. Stable: a uid always starts at the same
 * broker, so its persistent session stays put. Brokers out of service (ejected after a failed
 * connect, or failing the active health check: src/upstream) go last, so the next connect
 * goes straight to a healthy one; they are still tried when no healthy one is left (a guess
 * beats a certain refusal). Used to open the first session and each move.
 */
import { fnv1a32 } from '../router/index.js';
import type { BrokerSet } from '../upstream/index.js';

const NO_BROKERS: readonly string[] = Object.freeze([]);

export class DialPlan {
  /** The zone being dialled ('' before the first). */
  zone = '';
  /** The zone's brokers in map order, or a reordered copy when some are out of service. */
  private brokers: readonly string[] = NO_BROKERS;
  private first = 0;
  private tried = 0;

  /**
   * Plan the brokers of `zone`: from the uid's broker on (a random one without uid), the
   * available ones first. False when the zone lists none.
   */
  start(
    listed: readonly string[],
    zone: string,
    uid: string | null,
    random: () => number,
    health: BrokerSet,
  ): boolean {
    this.zone = zone;
    this.tried = 0;
    const n = listed.length;
    if (n === 0) {
      this.brokers = NO_BROKERS;
      return false;
    }
    const start = uid === null ? Math.floor(random() * n) : fnv1a32(uid) % n;
    const now = Date.now();
    let down = 0;
    for (const a of listed) if (!health.get(a).available(now)) down++;
    if (down === 0) {
      // The common case: no copy.
      this.brokers = listed;
      this.first = start;
      return true;
    }
    const up: string[] = [];
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const a = listed[(start + i) % n] as string;
      (health.get(a).available(now) ? up : out).push(a);
    }
    this.brokers = up.concat(out);
    this.first = 0;
    return true;
  }

  get exhausted(): boolean {
    return this.tried >= this.brokers.length;
  }

  /** The next broker to try; check `exhausted` first. */
  next(): string {
    return this.brokers[(this.first + this.tried++) % this.brokers.length] as string;
  }
}
