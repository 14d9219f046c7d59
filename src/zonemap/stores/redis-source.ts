import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { DocumentReadError, InvalidZoneMapError, ZonegateError } from '../../core/errors.js';
import { compileZoneMap } from '../compile.js';
import type { CompiledZoneMap, ZoneMapDoc } from '../model.js';
import type { ZoneMapSource, ZoneMapSourceEvents } from '../source.js';
import { ZoneMapNotFoundError, ZoneMapStoreUnavailableError } from './errors.js';
import type { GatewayReport } from './gateway-report.js';
import { connectClient, createRedisClient, followRetry, type RedisClient } from './redis-client.js';
import { REDIS_DEFAULTS, type RedisStoreConfig } from '../../core/redis-config.js';
import { RedisZoneMapStore } from './redis-store.js';
import { readSnapshot, writeSnapshot } from './snapshot.js';
import { decodeStoredMap } from './stored-map.js';

export interface RedisZoneMapSourceOptions {
  readonly redis: RedisStoreConfig;
  /** This gateway's IDC, shown by `map status`. */
  readonly idc: string;
  /** Key of this gateway in the gateways hash; `host:pid` by default. */
  readonly gatewayId?: string;
  /** Overrides `redis.snapshotFile`. */
  readonly snapshotFile?: string;
}

export interface RedisZoneMapSourceStats {
  readonly version: number;
  readonly from: 'redis' | 'snapshot';
  readonly connected: boolean;
  /** Maps refused since start (invalid JSON, schema or semantic problems). */
  readonly invalidCount: number;
  readonly appliedAt: string;
}

// A failing connection retries every few hundred ms; one 'error' per distinct message per
// window is enough for the log.
const ERROR_REPEAT_MS = 10_000;

/**
 * Follows the zone map in Redis: a pub/sub message, every (re)connect and a periodic poll
 * each trigger a read; a changed, valid map is compiled and emitted as 'map'. An invalid
 * map is emitted as 'invalid' (once per distinct content) and the last good map stays.
 * Handlers never throw; transport trouble is emitted as 'error' only when someone listens.
 */
export class RedisZoneMapSource extends EventEmitter<ZoneMapSourceEvents> implements ZoneMapSource {
  private readonly cfg: RedisStoreConfig;
  private readonly idc: string;
  private readonly gatewayId: string;
  private readonly snapshotFile: string | undefined;
  private client: RedisClient | undefined;
  private subscriber: RedisClient | undefined;
  private store: RedisZoneMapStore | undefined;
  private current: CompiledZoneMap | undefined;
  private currentJson: string | null = null;
  private from: 'redis' | 'snapshot' = 'redis';
  private adminUrl: string | undefined;
  private appliedAt = new Date().toISOString();
  private lastInvalidJson: string | null = null;
  private invalidCount = 0;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private snapshotChain: Promise<void> = Promise.resolve();
  private closed = false;
  /**
   * What happened during start() is told after it resolves: the gateway attaches its
   * listeners only then, and a refused map or a Redis outage at boot must still be logged.
   */
  private startNotes: (() => void)[] | null = [];
  private lastError = { message: '', at: 0 };

  constructor(options: RedisZoneMapSourceOptions) {
    super();
    this.cfg = options.redis;
    this.idc = options.idc;
    this.gatewayId = options.gatewayId ?? `${hostname()}:${process.pid}`;
    this.snapshotFile = options.snapshotFile ?? options.redis.snapshotFile;
  }

  get id(): string {
    return this.gatewayId;
  }

  /**
   * Resolves with the map to start serving: the one in Redis, else (Redis unreachable, empty
   * or invalid) the local snapshot. Rejects only when neither is available.
   */
  async start(): Promise<CompiledZoneMap> {
    const keyPrefix = this.cfg.keyPrefix ?? REDIS_DEFAULTS.keyPrefix;
    const client = createRedisClient(this.cfg, {
      connectionName: `zonegate:${this.gatewayId}`,
      mode: 'follow',
    });
    const subscriber = createRedisClient(this.cfg, {
      connectionName: `zonegate-sub:${this.gatewayId}`,
      mode: 'follow',
    });
    this.client = client;
    this.subscriber = subscriber;
    this.store = new RedisZoneMapStore(client, { ...this.cfg, keyPrefix });
    const store = this.store;
    client.on('error', (err: Error) => this.emitError(err));
    subscriber.on('error', (err: Error) => this.emitError(err));

    let fromRedis: CompiledZoneMap | null = null;
    let redisProblem: Error | null = null;
    try {
      await connectClient(client, this.cfg.connectTimeoutMs ?? REDIS_DEFAULTS.connectTimeoutMs);
      const raw = await store.readRaw();
      if (raw.json === null) {
        redisProblem = new ZoneMapNotFoundError(`no zone map in ${store.description}`);
      } else {
        try {
          fromRedis = compileZoneMap(
            decodeStoredMap(raw.version, raw.json, `zone map in ${store.description}`),
          );
          this.currentJson = raw.json;
        } catch (err) {
          this.noteInvalid(raw.json, err);
          redisProblem = err as Error;
        }
      }
    } catch (err) {
      redisProblem =
        err instanceof ZonegateError
          ? err
          : new ZoneMapStoreUnavailableError(
              `cannot reach ${store.description}: ${(err as Error).message}`,
              err,
            );
    }

    if (fromRedis !== null) {
      this.current = fromRedis;
      this.from = 'redis';
      this.queueSnapshot(fromRedis.doc);
    } else {
      const snap = this.snapshotFile === undefined ? null : await this.readSnapshotOrNull();
      if (snap === null) {
        await this.close();
        throw redisProblem ?? new ZoneMapNotFoundError('no zone map');
      }
      this.current = compileZoneMap(snap);
      this.from = 'snapshot';
      this.emitError(
        new ZoneMapStoreUnavailableError(
          `serving the snapshot ${this.snapshotFile ?? ''} (version ${snap.version}): ${redisProblem?.message ?? ''}`,
          redisProblem,
        ),
      );
    }

    // From here on every reconnect of either connection re-reads: messages published while a
    // connection was down are lost, the read is what catches up.
    client.on('ready', () => this.refresh());
    subscriber.on('ready', () => {
      subscriber.subscribe(store.keys.channel).then(
        () => this.refresh(),
        (err: unknown) => this.emitError(err),
      );
    });
    subscriber.on('message', () => this.refresh());
    this.restartWhenGivenUp(client);
    this.restartWhenGivenUp(subscriber);
    if (client.status !== 'ready') this.connectInBackground(client);
    this.connectInBackground(subscriber);

    const pollMs = this.cfg.pollIntervalMs ?? REDIS_DEFAULTS.pollIntervalMs;
    this.pollTimer = setInterval(() => this.poll(), pollMs);
    this.pollTimer.unref();
    const reportMs = this.cfg.reportIntervalMs ?? REDIS_DEFAULTS.reportIntervalMs;
    this.reportTimer = setInterval(() => this.report(), reportMs);
    this.reportTimer.unref();
    this.report();
    const notes = this.startNotes ?? [];
    this.startNotes = null;
    setImmediate(() => {
      for (const note of notes) note();
    });
    return this.current;
  }

  /** The map being served (after start). */
  get map(): CompiledZoneMap | undefined {
    return this.current;
  }

  stats(): RedisZoneMapSourceStats {
    return {
      version: this.current?.version ?? 0,
      from: this.from,
      connected: this.client?.status === 'ready',
      invalidCount: this.invalidCount,
      appliedAt: this.appliedAt,
    };
  }

  advertiseAdmin(url: string): void {
    this.adminUrl = url;
    this.report();
  }

  /** Re-reads now (also what a message, a reconnect and the poll do). Never rejects. */
  refresh(): void {
    if (this.closed) return;
    if (this.refreshing !== null) {
      // A change may have landed after the running read was answered: read once more after it.
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.readAndApply()
      .catch((err: unknown) => this.emitError(err))
      .finally(() => {
        this.refreshing = null;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.refresh();
        }
      });
  }

  /** Resolves when the read in flight (if any) is done; for tests and orderly shutdown. */
  async settled(): Promise<void> {
    while (this.refreshing !== null) await this.refreshing;
    await this.snapshotChain;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pollTimer);
    clearInterval(this.reportTimer);
    await this.refreshing;
    await this.snapshotChain;
    const store = this.store;
    if (store !== undefined && this.client?.status === 'ready') {
      // A gateway that leaves on purpose should not show up as lagging in `map status`.
      await Promise.race([store.forgetGateway(this.gatewayId).catch(() => undefined), sleep(500)]);
    }
    for (const c of [this.client, this.subscriber]) {
      if (c === undefined) continue;
      c.removeAllListeners('ready');
      c.removeAllListeners('message');
      c.removeAllListeners('end');
      c.disconnect();
    }
  }

  private poll(): void {
    const store = this.store;
    if (store === undefined || this.client?.status !== 'ready' || this.refreshing !== null) return;
    // The cheap check: only the version field, unless it differs from what we serve.
    store.readVersion().then(
      (version) => {
        const same =
          this.from === 'redis' && version !== null && version === String(this.current?.version ?? '');
        if (!same) this.refresh();
      },
      (err: unknown) => this.emitError(err),
    );
  }

  private async readAndApply(): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    const raw = await store.readRaw();
    // An emptied store (flushed, or a fresh Redis after a crash) is not a map: keep serving.
    if (raw.json === null) return;
    if (raw.json === this.currentJson) {
      if (this.from === 'snapshot') this.markFromRedis();
      return;
    }
    if (raw.json === this.lastInvalidJson) return;
    let doc: ZoneMapDoc;
    let next: CompiledZoneMap;
    try {
      doc = decodeStoredMap(raw.version, raw.json, `zone map in ${store.description}`);
      next = compileZoneMap(doc);
    } catch (err) {
      this.noteInvalid(raw.json, err);
      return;
    }
    if (this.closed) return;
    this.currentJson = raw.json;
    this.lastInvalidJson = null;
    const prev = this.current;
    this.current = next;
    this.from = 'redis';
    this.appliedAt = new Date().toISOString();
    if (prev === undefined || prev.version !== next.version || JSON.stringify(prev.doc) !== raw.json) {
      this.emit('map', next);
    }
    this.queueSnapshot(doc);
    this.report();
  }

  private markFromRedis(): void {
    this.from = 'redis';
    this.report();
  }

  private noteInvalid(json: string, err: unknown): void {
    if (json === this.lastInvalidJson) return;
    this.lastInvalidJson = json;
    this.invalidCount++;
    const refused =
      err instanceof InvalidZoneMapError || err instanceof DocumentReadError
        ? err
        : new DocumentReadError(`refused the stored zone map: ${(err as Error).message}`, err);
    if (this.startNotes !== null) this.startNotes.push(() => this.emit('invalid', refused));
    else this.emit('invalid', refused);
  }

  private report(): void {
    const store = this.store;
    const current = this.current;
    if (store === undefined || current === undefined || this.client?.status !== 'ready') return;
    const report: GatewayReport = {
      id: this.gatewayId,
      idc: this.idc,
      version: current.version,
      at: new Date().toISOString(),
      appliedAt: this.appliedAt,
      host: hostname(),
      pid: process.pid,
      from: this.from,
      ...(this.adminUrl === undefined ? {} : { admin: this.adminUrl }),
    };
    store.reportGateway(report).catch((err: unknown) => this.emitError(err));
  }

  private queueSnapshot(doc: ZoneMapDoc): void {
    const path = this.snapshotFile;
    if (path === undefined) return;
    this.snapshotChain = this.snapshotChain
      .then(() => writeSnapshot(path, doc))
      .catch((err: unknown) => this.emitError(err));
  }

  private async readSnapshotOrNull(): Promise<ZoneMapDoc | null> {
    if (this.snapshotFile === undefined) return null;
    try {
      return await readSnapshot(this.snapshotFile);
    } catch (err) {
      this.emitError(err);
      return null;
    }
  }

  private connectInBackground(c: RedisClient): void {
    // A failed first connect is retried by the client's retry strategy; 'ready' then fires.
    c.connect().catch(() => undefined);
  }

  /**
   * A follow-mode client retries forever, except in one case ioredis does not retry: in Sentinel
   * mode, the failover detector left from the previous connection hears +switch-master and
   * aborts the reconnect that is asking a sentinel for the primary at that moment; that
   * connect() rejects ("Connection is closed.") and the client ends for good. A busy process
   * handles a due reconnect and the announcement in the same turn, so it is not rare. Left
   * alone, the command connection stays down: no read, no poll, no map until a restart.
   * Restart any connection that ends while we still follow, with the usual back-off.
   */
  private restartWhenGivenUp(c: RedisClient): void {
    let attempts = 0;
    c.on('ready', () => (attempts = 0));
    c.on('end', () => {
      if (this.closed) return;
      setTimeout(() => {
        if (!this.closed && c.status === 'end') this.connectInBackground(c);
      }, followRetry(++attempts)).unref();
    });
  }

  private emitError(err: unknown): void {
    if (this.closed && !(err instanceof ZonegateError)) return;
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.startNotes !== null) {
      this.startNotes.push(() => this.emitError(e));
      return;
    }
    const now = Date.now();
    if (e.message === this.lastError.message && now - this.lastError.at < ERROR_REPEAT_MS) return;
    this.lastError = { message: e.message, at: now };
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
