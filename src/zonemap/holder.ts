import { EventEmitter } from 'node:events';
import type { CompiledZoneMap } from './model.js';

export interface ZoneMapHolderEvents {
  change: [next: CompiledZoneMap, prev: CompiledZoneMap];
}

/**
 * The map a gateway routes by right now. Swapping is one reference assignment, so a request
 * sees either the old or the new map, never a mix; listeners (MQTT migration, metrics) are
 * told synchronously after the swap.
 */
export class ZoneMapHolder extends EventEmitter<ZoneMapHolderEvents> {
  #current: CompiledZoneMap;

  constructor(initial: CompiledZoneMap) {
    super();
    this.#current = initial;
  }

  get current(): CompiledZoneMap {
    return this.#current;
  }

  swap(next: CompiledZoneMap): void {
    const prev = this.#current;
    if (next === prev) return;
    this.#current = next;
    this.emit('change', next, prev);
  }
}
