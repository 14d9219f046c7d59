import type { EventBus } from '../core/events.js';
import type { GatewayConfig } from '../core/config.js';
import type { CertUidReader, CookieKeyring, Identifier } from '../identity/index.js';
import type { Self } from '../router/index.js';
import type { TargetTable, UpstreamRegistry } from '../upstream/index.js';
import type { TransferWatch } from './transfer-watch.js';

/** Everything a request handler reads; `table` is swapped (not mutated) on each zone map change. */
export interface HttpContext {
  readonly config: GatewayConfig;
  readonly self: Self;
  table: TargetTable;
  readonly registry: UpstreamRegistry;
  readonly identifier: Identifier;
  readonly keyring: CookieKeyring | null;
  readonly certUid: CertUidReader | null;
  /** Where every fact of the stage is published (src/core/events.ts): metrics and logs subscribe there. */
  readonly events: EventBus;
  /** `; Path=/; Max-Age=…; HttpOnly; SameSite=Lax[; Secure]`, built once. */
  readonly cookieAttributes: string;
  /** Set when shutting down: responses carry `connection: close`. */
  closing: boolean;
  /** Idle timeout of exchanges waiting on their client (`timeouts.transferIdleTimeoutMs`). */
  readonly transfers: TransferWatch;
}
