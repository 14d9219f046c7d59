import { createHash } from 'node:crypto';
import { ZonegateError } from '../../core/errors.js';
import type { ZoneMapDoc } from '../model.js';
import { ZoneMapConflictError, ZoneMapStoreUnavailableError, ZoneMapVersionNotFoundError } from './errors.js';
import { parseGatewayReport, type GatewayReport } from './gateway-report.js';
import { historyFields, parseHistoryEntry, type HistoryEntry, type HistoryWrite } from './history-entry.js';
import { connectClient, createRedisClient, type RedisClient } from './redis-client.js';
import { describeRedisStore, REDIS_DEFAULTS, type RedisStoreConfig } from '../../core/redis-config.js';
import { zoneMapKeys, type ZoneMapKeys } from './redis-keys.js';
import { decodeStoredMap } from './stored-map.js';
import type { RawStoredMap, ZoneMapStore } from './store.js';
import { WRITE_SCRIPT } from './write-script.js';

const WRITE_SCRIPT_SHA = createHash('sha1').update(WRITE_SCRIPT).digest('hex');
/** Approximate cap of the history stream (XADD MAXLEN ~): enough for months of drills. */
export const HISTORY_MAX_ENTRIES = 1000;

/**
 * The zone map in Redis: reads, the compare-and-set write, history and gateway reports.
 * Validation of what is written is the writer's job (writer.ts); this class moves bytes.
 */
export class RedisZoneMapStore implements ZoneMapStore {
  readonly keys: ZoneMapKeys;
  readonly client: RedisClient;
  readonly description: string;

  constructor(client: RedisClient, cfg: RedisStoreConfig) {
    this.client = client;
    this.keys = zoneMapKeys(cfg.keyPrefix ?? REDIS_DEFAULTS.keyPrefix);
    this.description = describeRedisStore(cfg);
  }

  /** Connects for one CLI run: a few quick attempts, then ZG_ERR_ZONEMAP_STORE_UNAVAILABLE. */
  static async open(cfg: RedisStoreConfig, connectionName: string): Promise<RedisZoneMapStore> {
    const client = createRedisClient(cfg, { connectionName, mode: 'once' });
    // ioredis emits the socket error (ECONNREFUSED, ...) but rejects connect() with a bare
    // "Connection is closed": keep the first for the message.
    let lastError: Error | undefined;
    client.on('error', (err: Error) => (lastError = err));
    const store = new RedisZoneMapStore(client, cfg);
    try {
      await connectClient(client, cfg.connectTimeoutMs ?? REDIS_DEFAULTS.connectTimeoutMs);
    } catch (err) {
      client.disconnect();
      throw new ZoneMapStoreUnavailableError(
        `cannot reach the zone map store ${store.description}: ${(lastError ?? (err as Error)).message}`,
        err,
      );
    }
    return store;
  }

  async readRaw(): Promise<RawStoredMap> {
    const [version, json] = await this.guard('read the zone map', () =>
      this.client.hmget(this.keys.map, 'version', 'json'),
    );
    return { version: version ?? null, json: json ?? null };
  }

  /** Only the version field: the cheap check the periodic poll makes. */
  async readVersion(): Promise<string | null> {
    return this.guard('read the zone map version', () => this.client.hget(this.keys.map, 'version'));
  }

  /** The stored map, validated; null when the store holds none. Throws when it is invalid. */
  async read(): Promise<ZoneMapDoc | null> {
    const raw = await this.readRaw();
    if (raw.json === null) return null;
    return decodeStoredMap(raw.version, raw.json, `zone map in ${this.description}`);
  }

  /**
   * Writes `doc` (whose version must be `expected + 1`, or ≥ 1 for the first write) if the
   * store still holds `expected`; else throws ZoneMapConflictError naming both versions.
   */
  async compareAndSet(doc: ZoneMapDoc, expected: number | null, meta: HistoryWrite): Promise<void> {
    const json = JSON.stringify(doc);
    const args = [
      expected === null ? '' : String(expected),
      String(doc.version),
      json,
      this.keys.channel,
      String(HISTORY_MAX_ENTRIES),
      ...historyFields(doc.version, expected, new Date().toISOString(), meta, json),
    ];
    const reply = await this.guard('write the zone map', async () => {
      try {
        return await this.client.evalsha(WRITE_SCRIPT_SHA, 2, this.keys.map, this.keys.history, ...args);
      } catch (err) {
        // First use on this server (or after a restart / SCRIPT FLUSH): load it.
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return this.client.eval(WRITE_SCRIPT, 2, this.keys.map, this.keys.history, ...args);
      }
    });
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new ZoneMapStoreUnavailableError(
        `unexpected reply from the write script: ${JSON.stringify(reply)}`,
      );
    }
    const [status, value] = reply as [unknown, unknown];
    if (status === 'ok') return;
    const actual = typeof value === 'string' && value !== '' ? Number(value) : null;
    throw new ZoneMapConflictError(expected, actual);
  }

  /** Newest first. */
  async history(limit: number): Promise<HistoryEntry[]> {
    const rows = await this.guard('read the history', () =>
      this.client.xrevrange(this.keys.history, '+', '-', 'COUNT', limit),
    );
    const out: HistoryEntry[] = [];
    for (const [id, flat] of rows) {
      const parsed = parseHistoryEntry(id, flat);
      if (parsed !== null) out.push(parsed.entry);
    }
    return out;
  }

  /** The document as written at `version`, re-validated (the rules may have changed since). */
  async historyDoc(version: number): Promise<{ entry: HistoryEntry; doc: ZoneMapDoc }> {
    const rows = await this.guard('read the history', () =>
      this.client.xrevrange(this.keys.history, '+', '-', 'COUNT', HISTORY_MAX_ENTRIES * 2),
    );
    let oldest: number | null = null;
    for (const [id, flat] of rows) {
      const parsed = parseHistoryEntry(id, flat);
      if (parsed === null) continue;
      oldest = parsed.entry.version;
      if (parsed.entry.version === version) {
        return {
          entry: parsed.entry,
          doc: decodeStoredMap(null, parsed.json, `history entry ${id} (version ${version})`),
        };
      }
    }
    throw new ZoneMapVersionNotFoundError(version, oldest);
  }

  async reportGateway(report: GatewayReport): Promise<void> {
    await this.guard('report this gateway', () =>
      this.client.hset(this.keys.gateways, report.id, JSON.stringify(report)),
    );
  }

  async gateways(): Promise<GatewayReport[]> {
    const all = await this.guard('read the gateway reports', () => this.client.hgetall(this.keys.gateways));
    const out: GatewayReport[] = [];
    for (const [id, json] of Object.entries(all)) {
      const r = parseGatewayReport(id, json);
      if (r !== null) out.push(r);
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async forgetGateway(id: string): Promise<void> {
    await this.guard('remove a gateway report', () => this.client.hdel(this.keys.gateways, id));
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private async guard<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof ZonegateError) throw err;
      throw new ZoneMapStoreUnavailableError(
        `could not ${what} in ${this.description}: ${(err as Error).message}`,
        err,
      );
    }
  }
}
