/**
 * Paces moves of connections between zones: at most `movesPerSecond` per gateway process,
 * with jitter, so a city failover is not a reconnect storm at the standby brokers.
 *
 * A token bucket (burst of 50 ms worth, at least 1, more only to catch up a late tick) refilled
 * on a jittered tick. Immediate
 * moves (zone `down`, shards moved) wait in a FIFO; drain moves carry a due time
 * spread over the drain window and wait in a min-heap until due.
 */

export interface Movable {
  /** Start the move now. Returns false when it turned out not to be needed (no token used). */
  runMove(): boolean;
  /** Set while queued, so a connection is queued once. */
  moveQueued: boolean;
  /** Due time (scheduler clock) of a queued move. */
  moveDue: number;
}

export class MoveScheduler {
  private readonly rate: number;
  private readonly burst: number;
  private readonly baseTickMs: number;
  private readonly random: () => number;
  private readonly clock: () => number;
  private tokens: number;
  private lastRefill: number;
  private fifo: Movable[] = [];
  private fifoHead = 0;
  private heap: Movable[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Moves started so far (for tests and metrics). */
  started = 0;

  constructor(
    movesPerSecond: number,
    random: () => number = Math.random,
    clock: () => number = () => performance.now(),
  ) {
    this.rate = movesPerSecond;
    this.burst = Math.max(1, Math.floor(movesPerSecond * 0.05));
    this.baseTickMs = Math.min(100, Math.max(5, 1000 / movesPerSecond));
    this.random = random;
    this.clock = clock;
    this.tokens = this.burst;
    this.lastRefill = clock();
  }

  get queued(): number {
    return this.fifo.length - this.fifoHead + this.heap.length;
  }

  /** Queue a move `delayMs` from now (0: as soon as the rate allows). Ignored when already queued. */
  enqueue(item: Movable, delayMs = 0): void {
    if (this.closed || item.moveQueued) return;
    if (this.timer === null && this.queued === 0) {
      // Idle until now: no credit saved up from the quiet time.
      this.lastRefill = this.clock();
      this.tokens = Math.min(this.tokens, this.burst);
    }
    item.moveQueued = true;
    if (delayMs <= 0) {
      item.moveDue = 0;
      this.fifo.push(item);
    } else {
      item.moveDue = this.clock() + delayMs;
      this.heapPush(item);
    }
    this.arm();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    // Entries before fifoHead were taken (and cleared) already.
    for (let i = this.fifoHead; i < this.fifo.length; i++) (this.fifo[i] as Movable).moveQueued = false;
    for (const item of this.heap) item.moveQueued = false;
    this.fifo = [];
    this.fifoHead = 0;
    this.heap = [];
  }

  private arm(): void {
    if (this.timer !== null || this.closed) return;
    // Jitter: each tick lands anywhere in 0.5x..1.5x the base interval.
    const delay = this.baseTickMs * (0.5 + this.random());
    this.timer = setTimeout(this.tick, delay);
  }

  private readonly tick = (): void => {
    this.timer = null;
    const now = this.clock();
    // Tokens accrue at `rate`. They are capped at the burst, or at what accrued since the last
    // tick when that tick came late (a busy event loop must not silently lower the rate); at
    // most 250 ms worth, so any one-second window sees at most 1.25 x rate moves.
    const elapsed = now - this.lastRefill;
    const cap = Math.max(this.burst, (Math.min(elapsed, 250) * this.rate) / 1000);
    this.tokens = Math.min(cap, this.tokens + (elapsed * this.rate) / 1000);
    this.lastRefill = now;
    while (this.heap.length > 0 && (this.heap[0] as Movable).moveDue <= now) {
      this.fifo.push(this.heapPop());
    }
    while (this.tokens >= 1 && this.fifoHead < this.fifo.length) {
      const item = this.fifo[this.fifoHead] as Movable;
      this.fifo[this.fifoHead++] = undefined as unknown as Movable;
      if (!item.moveQueued) continue;
      item.moveQueued = false;
      if (item.runMove()) {
        this.tokens -= 1;
        this.started++;
      }
    }
    if (this.fifoHead > 1024 && this.fifoHead * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.fifoHead);
      this.fifoHead = 0;
    }
    if (this.fifoHead >= this.fifo.length) {
      this.fifo = [];
      this.fifoHead = 0;
    }
    if (this.queued > 0) this.arm();
  };

  private heapPush(item: Movable): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((h[parent] as Movable).moveDue <= item.moveDue) break;
      h[i] = h[parent] as Movable;
      i = parent;
    }
    h[i] = item;
  }

  private heapPop(): Movable {
    const h = this.heap;
    const top = h[0] as Movable;
    const last = h.pop() as Movable;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && (h[r] as Movable).moveDue < (h[l] as Movable).moveDue ? r : l;
        if ((h[c] as Movable).moveDue >= last.moveDue) break;
        h[i] = h[c] as Movable;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
