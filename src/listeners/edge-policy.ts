/**
 * What the listener edge asks of every HTTP request before it is routed: the client's request
 * rate (client-limits.ts) and, on https listeners with `hsts`, the Strict-Transport-Security
 * header. The HTTP stage calls it; the answers are plain values so it stays protocol-agnostic.
 */
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../core/config.js';
import type { ClientLimits } from './client-limits.js';
import { connectionInfo, type ConnectionInfo } from './connection-info.js';
import { ClientRateLimitedError } from './errors.js';

export class EdgePolicy {
  /** The error to answer a request over the rate with (one instance: it carries no request data). */
  readonly rateLimited = new ClientRateLimitedError();
  readonly #limits: ClientLimits | null;
  readonly #hsts = new Map<string, string>();

  constructor(listeners: readonly ListenerConfig[], limits: ClientLimits | null) {
    this.#limits =
      limits !== null && (limits.config.requestsPerSec > 0 || limits.config.maxActiveRequests > 0)
        ? limits
        : null;
    for (const l of listeners) {
      if (l.hsts === undefined) continue;
      const h = l.hsts;
      this.#hsts.set(
        l.name,
        `max-age=${h.maxAgeSec}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`,
      );
    }
  }

  /**
   * A new connection: remember its client for the rate limit. `trustedPeer`: a peer gateway,
   * which relays many users' requests and must not be limited as one client.
   */
  onConnection(socket: Socket, info: ConnectionInfo, trustedPeer: boolean): void {
    if (this.#limits !== null && !trustedPeer) this.#limits.bindSocket(socket, info.remoteAddress);
  }

  /** False: the client behind this socket is over its request rate (answer `rateLimited`). */
  allowRequest(socket: Socket): boolean {
    return this.#limits === null || this.#limits.allowRequest(socket);
  }

  /**
   * False: the client behind this socket already has its most requests in flight (answer
   * `rateLimited`). True: counted, pair it with one `endRequest(socket)` when the answer is
   * done. Null: not counted (exempt, or no limit), nothing to release.
   */
  startRequest(socket: Socket): boolean | null {
    return this.#limits === null ? null : this.#limits.startRequest(socket);
  }

  endRequest(socket: Socket): void {
    this.#limits?.endRequest(socket);
  }

  /** The `strict-transport-security` value for a request on this connection, if its listener sends one. */
  hsts(socket: Socket): string | undefined {
    if (this.#hsts.size === 0) return undefined;
    const listener = connectionInfo(socket)?.listener;
    return listener === undefined ? undefined : this.#hsts.get(listener);
  }
}
