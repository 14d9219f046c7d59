/**
 * Idle timeout for proxied transfers that wait on the client: an upload the client stopped
 * sending, a download the client stopped reading (its buffer full, the upstream paused). One
 * interval for all exchanges instead of a timer each: an exchange records the watch's tick when
 * it makes progress, and the sweep ends those that waited longer than the limit.
 */

export interface Watched {
  /** `TransferWatch.tick` at the last byte moved for the client. */
  tick: number;
  /** True while the exchange is blocked on the client (not on the upstream). */
  waitingOnClient(): boolean;
  /** The client has been idle too long: end the exchange. */
  idle(): void;
}

export class TransferWatch {
  /** Advances once per sweep; cheaper than Date.now() on every chunk. */
  tick = 0;
  readonly #active = new Set<Watched>();
  readonly #limitTicks: number;
  readonly #timer: NodeJS.Timeout;

  constructor(idleMs: number) {
    // Resolution of a quarter of the limit (at most 1 s): an idle client is cut between
    // idleMs and 1.25 × idleMs after its last byte.
    const step = Math.max(25, Math.min(1000, Math.floor(idleMs / 4)));
    this.#limitTicks = Math.max(1, Math.ceil(idleMs / step));
    this.#timer = setInterval(() => this.#sweep(), step);
    this.#timer.unref();
  }

  add(w: Watched): void {
    w.tick = this.tick;
    this.#active.add(w);
  }

  delete(w: Watched): void {
    this.#active.delete(w);
  }

  get size(): number {
    return this.#active.size;
  }

  #sweep(): void {
    const now = ++this.tick;
    for (const w of this.#active) {
      if (now - w.tick > this.#limitTicks && w.waitingOnClient()) {
        this.#active.delete(w);
        w.idle();
      }
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
