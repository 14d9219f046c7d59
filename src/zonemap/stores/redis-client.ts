import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { readRedisAuth } from './redis-auth.js';
import { REDIS_DEFAULTS, type RedisStoreConfig } from '../../core/redis-config.js';

export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** Shown in CLIENT LIST, so an operator can tell gateways from CLI runs. */
  readonly connectionName: string;
  /**
   * `follow` (gateways): reconnect forever, fail commands at once while disconnected so a
   * poll never piles up behind an outage. `once` (CLI): give up after a few attempts.
   */
  readonly mode: 'follow' | 'once';
}

// Reconnect quickly at first: a gateway that was cut off should catch up within ~50 ms of
// Redis coming back, but not hammer it while it stays down.
export function followRetry(times: number): number {
  return Math.min(25 * times, 500);
}

function onceRetry(times: number): number | null {
  return times > 3 ? null : 100 * times;
}

/** Throws DocumentReadError when a password or TLS file named by `cfg` cannot be read. */
export function createRedisClient(cfg: RedisStoreConfig, options: RedisClientOptions): RedisClient {
  const auth = readRedisAuth(cfg);
  const connectTimeout = cfg.connectTimeoutMs ?? REDIS_DEFAULTS.connectTimeoutMs;
  const follow = options.mode === 'follow';
  const common: RedisOptions = {
    connectionName: options.connectionName,
    // A one-shot CLI bounds its connect with connectClient() instead, and must not wait on
    // ioredis's 2 s disconnect timer after a refused connection before it can exit.
    connectTimeout: follow ? connectTimeout : 0,
    ...(follow ? {} : { disconnectTimeout: 50 }),
    lazyConnect: true,
    enableOfflineQueue: !follow,
    maxRetriesPerRequest: follow ? 0 : 2,
    retryStrategy: follow ? followRetry : onceRetry,
    // A READONLY reply means we are talking to a demoted primary after a failover: reconnect
    // (Sentinel mode then asks the sentinels for the new primary).
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    // Same credentials and TLS for every data node: the single server, a Sentinel-managed
    // primary, each Cluster node.
    ...(auth.username === undefined ? {} : { username: auth.username }),
    ...(auth.password === undefined ? {} : { password: auth.password }),
    ...(auth.tls === undefined ? {} : { tls: auth.tls }),
  };
  if (cfg.cluster !== undefined) {
    return new Cluster(
      cfg.cluster.map((n) => ({ host: n.host, port: n.port })),
      {
        lazyConnect: true,
        enableOfflineQueue: !follow,
        clusterRetryStrategy: follow ? followRetry : onceRetry,
        redisOptions: common,
      },
    );
  }
  if (cfg.sentinels !== undefined) {
    return new Redis({
      ...common,
      sentinels: cfg.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: cfg.name ?? '',
      sentinelRetryStrategy: follow ? followRetry : onceRetry,
      // Subscribes to the sentinels' +switch-master so a failover is noticed at once rather
      // than on the next failed command.
      failoverDetector: follow,
      ...(auth.sentinelUsername === undefined ? {} : { sentinelUsername: auth.sentinelUsername }),
      ...(auth.sentinelPassword === undefined ? {} : { sentinelPassword: auth.sentinelPassword }),
      // With tls set, the sentinels are spoken to over TLS as well (they share the CA).
      ...(auth.tls === undefined ? {} : { enableTLSForSentinelMode: true, sentinelTLS: auth.tls }),
    });
  }
  return new Redis(cfg.url ?? '', common);
}

/** Connects a lazily created client, bounded by the configured connect timeout. */
export async function connectClient(client: RedisClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
