import type { GatewayConfig } from '../core/config.js';
import type { CertUidReader, CookieKeyring, Identifier } from '../identity/index.js';
import type { ConnectionInfo } from '../listeners/index.js';
import type { Self } from '../router/index.js';
import type { RequestTrace } from './request-trace.js';
import type { TargetTable, UpstreamRegistry } from '../upstream/index.js';
import type { TransferWatch } from './transfer-watch.js';

/** Counting hooks for the metrics stage; called on the hot path, so they must be cheap and never throw. */
export interface HttpHooks {
  /**
   * A response finished (or failed) for a routed or refused request. `reason` is the router's or
   * the error code. `target` is the request target as received (query string included: the
   * access log strips it); `method` and `target` are '' when Node's parser refused the request
   * before there was one, `upstream` is '' when no upstream was picked.
   */
  onResponse?: (
    protocol: 'http1' | 'http2' | 'websocket',
    zone: string,
    colour: string,
    reason: string,
    status: number,
    ms: number,
    method: string,
    target: string,
    upstream: string,
    /** Request id, trace span, client address, bytes and error detail (null before a request existed). */
    trace?: RequestTrace | null,
  ) => void;
  /** A client connection (TLS: handshaken) reached the HTTP stage; once per connection, not per request. */
  onConnection?: (protocol: ConnectionInfo['protocol']) => void;
  onCookieRejected?: (reason: string) => void;
  onUpstreamError?: (address: string, code: string) => void;
  onRetry?: (from: string, to: string) => void;
  /** A bug: a request handler threw (the client got a 500). Log it with its stack. */
  onInternalError?: (err: unknown) => void;
}

/** Everything a request handler reads; `table` is swapped (not mutated) on each zone map change. */
export interface HttpContext {
  readonly config: GatewayConfig;
  readonly self: Self;
  table: TargetTable;
  readonly registry: UpstreamRegistry;
  readonly identifier: Identifier;
  readonly keyring: CookieKeyring | null;
  readonly certUid: CertUidReader | null;
  readonly hooks: HttpHooks;
  /** `; Path=/; Max-Age=…; HttpOnly; SameSite=Lax[; Secure]`, built once. */
  readonly cookieAttributes: string;
  /** Set when shutting down: responses carry `connection: close`. */
  closing: boolean;
  /** Idle timeout of exchanges waiting on their client (`timeouts.transferIdleTimeoutMs`). */
  readonly transfers: TransferWatch;
}
