/**
 * MQTT brokers as upstream endpoints: one EndpointState per broker address the zone map
 * lists, kept across map changes (same address, same health), so a broker that refused a
 * connect stays ejected whatever map is current. The MQTT stage reads `available` to order a
 * zone's brokers for each connect and reports how each connect went; the active checker
 * (health.ts) probes the same endpoints.
 */
import type { CompiledZoneMap } from '../zonemap/index.js';
import { ByAddress } from './by-address.js';
import { EndpointState, type EjectionOptions } from './endpoint.js';

export class BrokerSet {
  readonly #brokers: ByAddress<EndpointState>;

  constructor(ejection: EjectionOptions) {
    this.#brokers = new ByAddress((address) => new EndpointState(address, ejection));
  }

  get endpoints(): Iterable<EndpointState> {
    return this.#brokers.values();
  }

  /** The broker at `address`; one the map does not list (yet) is created on first use. */
  get(address: string): EndpointState {
    return this.#brokers.get(address);
  }

  /** Follow a new map: its brokers are known (and checked), brokers no zone lists are forgotten. */
  sync(map: CompiledZoneMap): void {
    const used = new Set<string>();
    for (const z of map.zones) {
      for (const a of z.upstreams.mqtt) {
        used.add(a);
        this.#brokers.get(a);
      }
    }
    this.#brokers.retain(used);
  }
}
