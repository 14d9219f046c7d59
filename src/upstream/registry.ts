/**
 * Upstream pools by address, and the per-map target table the forwarder reads: zone index →
 * blue / green groups, IDC → peer gateway group. Pools outlive map changes (same address,
 * same pool, same warm connections); pools no map uses any more are closed gracefully.
 */
import type { Colour, CompiledZoneMap } from '../zonemap/index.js';
import { Endpoint, type EndpointOptions } from './endpoint.js';
import { EndpointGroup } from './group.js';
import { ByAddress } from './by-address.js';

const EMPTY = new EndpointGroup([]);

export interface TargetTable {
  readonly map: CompiledZoneMap;
  /** [zoneIndex][0 = blue, 1 = green] */
  readonly zones: readonly (readonly [EndpointGroup, EndpointGroup])[];
  readonly gateways: ReadonlyMap<string, EndpointGroup>;
  /** Hosts of every peer gateway in the map: a request with `x-ldc-hop` is trusted only from these. */
  readonly peerHosts: ReadonlySet<string>;
}

export function groupFor(table: TargetTable, zoneIndex: number, colour: Colour): EndpointGroup {
  const z = table.zones[zoneIndex];
  if (z === undefined) return EMPTY;
  return colour === 'green' ? z[1] : z[0];
}

export class UpstreamRegistry {
  readonly #endpoints: ByAddress<Endpoint>;

  constructor(opts: EndpointOptions) {
    this.#endpoints = new ByAddress((address) => new Endpoint(address, opts));
  }

  get endpoints(): Iterable<Endpoint> {
    return this.#endpoints.values();
  }

  #group(addresses: readonly string[], used: Set<string>): EndpointGroup {
    return new EndpointGroup(
      addresses.map((a) => {
        used.add(a);
        return this.#endpoints.get(a);
      }),
    );
  }

  /** Build the table for a new map; closes pools of addresses the map no longer lists. */
  table(map: CompiledZoneMap): TargetTable {
    const used = new Set<string>();
    const zones = map.zones.map(
      (z) => [this.#group(z.upstreams.http.blue, used), this.#group(z.upstreams.http.green, used)] as const,
    );
    const gateways = new Map<string, EndpointGroup>();
    const peerHosts = new Set<string>();
    for (const [name, idc] of map.idcs) {
      const g = this.#group(idc.gateways, used);
      gateways.set(name, g);
      for (const e of g.endpoints) peerHosts.add(e.host);
    }
    // close() lets in-flight requests finish: a map change never cuts a response.
    this.#endpoints.retain(used, (e) => void e.close().catch(() => {}));
    return { map, zones, gateways, peerHosts };
  }

  /** Peer gateway group for an IDC (after `table` has seen a map listing it). */
  gatewayGroup(table: TargetTable, idc: string): EndpointGroup {
    return table.gateways.get(idc) ?? EMPTY;
  }

  async close(): Promise<void> {
    const all = [...this.#endpoints.values()];
    this.#endpoints.clear();
    await Promise.all(all.map((e) => e.destroy().catch(() => {})));
  }
}
