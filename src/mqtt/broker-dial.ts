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

/** A broker connection in a DialGate's care. */
export interface Dialable {
  readonly address: string;
  /** Its turn: connect now. False when it no longer wants to (closed while waiting): the next goes. */
  dial(): boolean;
}

/**
 * At most `limit` sessions being opened at one broker at once (from the TCP connect to the
 * broker's first packet, its CONNACK, or the connection's end); the others wait their turn, in
 * order. Why: after a network or LVS loss every client reconnects at once, and a relay that
 * opens all their broker connections at once fills the broker's accept queue (mosquitto
 * listens with a backlog of 100): the kernel drops the SYNs it has no room for, each such
 * connect waits a one-second retransmit (then three), and the storm takes seconds instead of
 * the milliseconds the broker needs per CONNECT. One gate per MQTT server, shared by every
 * client connection; each waiting entry is one array slot.
 */
export class DialGate {
  readonly limit: number;
  /** Per broker address: turns in use, and the line (taken from `head` on; a taken slot is null). */
  private readonly brokers = new Map<
    string,
    { inFlight: number; waiting: (Dialable | null)[]; head: number }
  >();

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Connect `d` now if its broker has room, else when a turn there ends. */
  request(d: Dialable): void {
    let b = this.brokers.get(d.address);
    if (b === undefined) {
      b = { inFlight: 0, waiting: [], head: 0 };
      this.brokers.set(d.address, b);
    }
    if (b.inFlight < this.limit) {
      b.inFlight++;
      if (!d.dial()) this.release(d.address);
    } else {
      b.waiting.push(d);
    }
  }

  /** A turn at `address` ended (answered, failed or closed): the next waiting one goes. */
  release(address: string): void {
    const b = this.brokers.get(address);
    if (b === undefined) return;
    b.inFlight--;
    while (b.head < b.waiting.length) {
      const next = b.waiting[b.head];
      b.waiting[b.head++] = null;
      if (next === null || next === undefined) continue;
      b.inFlight++;
      if (next.dial()) return;
      b.inFlight--;
    }
    // Nobody waits: the line starts over (no shifting of a long array while it drains). The
    // entry stays: one per broker address the maps have named, and no allocation per connect.
    b.waiting.length = 0;
    b.head = 0;
  }

  /** Sessions being opened at `address` and waiting for a turn there (tests, diagnostics). */
  state(address: string): { inFlight: number; waiting: number } {
    const b = this.brokers.get(address);
    return b === undefined
      ? { inFlight: 0, waiting: 0 }
      : { inFlight: b.inFlight, waiting: b.waiting.length - b.head };
  }
}
