/**
 * Per-client-address limits, the first line against floods from one source: concurrent
 * connections (checked at accept by every listener) and a request rate (a token bucket per
 * address, checked by the HTTP stage before a request is routed).
 *
 * A client is its IPv4 address or its IPv6 /64 (one host gets a whole /64, so rotating
 * within it must not buy a fresh allowance). Memory is bounded whatever the attacker does:
 * connection counts exist only for open connections, and rate buckets live in a table of at
 * most `trackedClients` entries that forgets its oldest entry when full. An attacker rotating
 * source addresses can therefore push honest clients' buckets out (they restart full: the
 * limiter fails open, never closed) but cannot grow the table; the per-listener
 * `maxConnections` and the pending-handshake bound cap what such an attacker holds.
 */
import { isIP, type Socket } from 'node:net';
import { cidrSet, plainAddress, type CidrSet } from '../core/cidr.js';
import type { ClientLimitsConfig } from '../core/config.js';

export type { ClientLimitsConfig };

interface Bucket {
  tokens: number;
  at: number;
}

/** `2001:0db8:1:2:3:4:5:6` → `2001:db8:1:2::/64`: the first four groups, expanded and normalized. */
function ipv6Prefix64(address: string): string {
  const zone = address.indexOf('%');
  let a = (zone < 0 ? address : address.slice(0, zone)).toLowerCase();
  if (a.includes('.')) {
    // An embedded IPv4 tail (`::1.2.3.4`) is the last two groups.
    const i = a.lastIndexOf(':');
    const v4 = a
      .slice(i + 1)
      .split('.')
      .map(Number);
    a = `${a.slice(0, i + 1)}${(((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16)}:${(((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16)}`;
  }
  const gap = a.indexOf('::');
  const head = (gap < 0 ? a : a.slice(0, gap)).split(':').filter((g) => g !== '');
  const tail =
    gap < 0
      ? []
      : a
          .slice(gap + 2)
          .split(':')
          .filter((g) => g !== '');
  const groups =
    gap < 0 ? head : [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** The key a client is counted under, or null for an address that is not an IP at all. */
export function clientKey(address: string): string | null {
  const a = plainAddress(address);
  const family = isIP(a);
  if (family === 4) return a;
  if (family === 6) return ipv6Prefix64(a);
  return null;
}

const NOTHING_TO_RELEASE = (): void => undefined;

const kClient = Symbol('zonegate.clientKey');
interface WithClient {
  [kClient]?: string | null;
}

export class ClientLimits {
  readonly config: ClientLimitsConfig;
  readonly #exempt: CidrSet;
  readonly #connections = new Map<string, number>();
  readonly #buckets = new Map<string, Bucket>();
  readonly #active = new Map<string, number>();
  readonly #now: () => number;
  readonly #perMs: number;

  constructor(config: ClientLimitsConfig, now: () => number = () => performance.now()) {
    this.config = config;
    this.#exempt = cidrSet(config.exempt);
    this.#now = now;
    this.#perMs = config.requestsPerSec / 1000;
  }

  /** The key to count this client under, or null when it is exempt (or not an IP). */
  keyOf(address: string): string | null {
    if (this.#exempt.has(address)) return null;
    return clientKey(address);
  }

  /**
   * Count a new connection from `address`. Returns what to call once it closes (the key is
   * worked out once), or null, counting nothing, when the client already holds
   * `maxConnections`: the caller closes the connection.
   */
  openConnection(address: string): (() => void) | null {
    if (this.config.maxConnections === 0) return NOTHING_TO_RELEASE;
    const key = this.keyOf(address);
    if (key === null) return NOTHING_TO_RELEASE;
    const n = this.#connections.get(key) ?? 0;
    if (n >= this.config.maxConnections) return null;
    this.#connections.set(key, n + 1);
    return () => {
      const left = (this.#connections.get(key) ?? 0) - 1;
      if (left <= 0) this.#connections.delete(key);
      else this.#connections.set(key, left);
    };
  }

  /** Remember on the socket who its client is, so each request costs one map lookup. */
  bindSocket(socket: Socket, address: string): void {
    (socket as Socket & WithClient)[kClient] =
      this.config.requestsPerSec === 0 && this.config.maxActiveRequests === 0 ? null : this.keyOf(address);
  }

  /**
   * Take one request token for the client behind `socket` (HTTP/2's `req.socket` proxy works
   * too). False: over the rate, answer 429.
   */
  allowRequest(socket: Socket): boolean {
    const key = (socket as Socket & WithClient)[kClient];
    if (key === undefined || key === null || this.config.requestsPerSec === 0) return true;
    const now = this.#now();
    const burst = this.config.burst;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.config.trackedClients) {
        // Oldest first: Map iterates in insertion order.
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      b = { tokens: burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /**
   * Count one in-flight request of the client behind `socket`. True: counted, pair it with one
   * `endRequest(socket)`. False, counting nothing: it already has `maxActiveRequests` (answer
   * 429). Null: not counted at all (exempt client, or the check is off), nothing to release.
   */
  startRequest(socket: Socket): boolean | null {
    const key = (socket as Socket & WithClient)[kClient];
    const max = this.config.maxActiveRequests;
    if (key === undefined || key === null || max === 0) return null;
    const n = this.#active.get(key) ?? 0;
    if (n >= max) return false;
    this.#active.set(key, n + 1);
    return true;
  }

  endRequest(socket: Socket): void {
    const key = (socket as Socket & WithClient)[kClient];
    if (key === undefined || key === null || this.config.maxActiveRequests === 0) return;
    const n = this.#active.get(key);
    if (n === undefined) return;
    if (n <= 1) this.#active.delete(key);
    else this.#active.set(key, n - 1);
  }

  /** Clients holding connections / rate entries right now (tests and the bench read these). */
  sizes(): { readonly connections: number; readonly buckets: number } {
    return { connections: this.#connections.size, buckets: this.#buckets.size };
  }
}
