/**
 * Per-address state that outlives map changes: the same address keeps the same object (its
 * health, its pool) whatever map is current; addresses no map lists any more are dropped.
 * UpstreamRegistry (HTTP pools) and BrokerSet (MQTT brokers) both keep theirs here.
 */
export class ByAddress<T> {
  readonly #make: (address: string) => T;
  readonly #items = new Map<string, T>();

  constructor(make: (address: string) => T) {
    this.#make = make;
  }

  values(): Iterable<T> {
    return this.#items.values();
  }

  /** The state of `address`, created on first use. */
  get(address: string): T {
    let e = this.#items.get(address);
    if (e === undefined) {
      e = this.#make(address);
      this.#items.set(address, e);
    }
    return e;
  }

  /** Drop every address not in `used`, handing each dropped one to `dropped`. */
  retain(used: ReadonlySet<string>, dropped?: (item: T) => void): void {
    for (const [a, e] of this.#items) {
      if (!used.has(a)) {
        this.#items.delete(a);
        dropped?.(e);
      }
    }
  }

  clear(): void {
    this.#items.clear();
  }
}
