import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { EventBus } from '../core/events.js';
import type { CompiledZoneMap } from './model.js';

export interface ZoneMapHolderEvents {
  change: [next: CompiledZoneMap, prev: CompiledZoneMap];
}

/**
 * The map a gateway routes by right now. Swapping is one reference assignment, so a request
 * sees either the old or the new map, never a mix; listeners (MQTT migration, metrics) are
 * told synchronously after the swap. When the holder is given the gateway's event bus, it
 * publishes `applied` once every listener has taken the new map (the apply latency is that time).
 */
export class ZoneMapHolder extends EventEmitter<ZoneMapHolderEvents> {
  #current: CompiledZoneMap;
  readonly #events: EventBus | null;

  constructor(initial: CompiledZoneMap, events: EventBus | null = null) {
    super();
    this.#current = initial;
    this.#events = events;
  }

  get current(): CompiledZoneMap {
    return this.#current;
  }

  swap(next: CompiledZoneMap): void {
    const prev = this.#current;
    if (next === prev) return;
    this.#current = next;
    const t0 = performance.now();
    this.emit('change', next, prev);
    const ch = this.#events?.zonemap;
    if (ch?.active === true) {
      const applySeconds = (performance.now() - t0) / 1000;
      ch.publish({ type: 'applied', version: next.version, previous: prev.version, applySeconds });
    }
  }
}
