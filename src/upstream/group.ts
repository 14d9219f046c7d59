import type { Endpoint } from './endpoint.js';

/** The endpoints of one zone and colour (or the peer gateways of one IDC), picked round robin. */
export class EndpointGroup {
  readonly endpoints: readonly Endpoint[];
  #next = 0;

  constructor(endpoints: readonly Endpoint[]) {
    this.endpoints = endpoints;
  }

  get size(): number {
    return this.endpoints.length;
  }

  /**
   * Next available endpoint other than `exclude`; when every one is ejected or unhealthy we
   * still try them in turn (a guess beats a certain 502), except `exclude` on a retry.
   */
  pick(exclude: Endpoint | null, now: number): Endpoint | null {
    const list = this.endpoints;
    const n = list.length;
    if (n === 0) return null;
    for (let i = 0; i < n; i++) {
      const e = list[(this.#next + i) % n]!;
      if (e !== exclude && e.available(now)) {
        this.#next = (this.#next + i + 1) % n;
        return e;
      }
    }
    for (let i = 0; i < n; i++) {
      const e = list[(this.#next + i) % n]!;
      if (e !== exclude) {
        this.#next = (this.#next + i + 1) % n;
        return e;
      }
    }
    return null;
  }
}
