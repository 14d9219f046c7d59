/**
 * The zone map in a local file, for the drill commands: one host, no Redis (the demo, a lab,
 * a single-site install). Gateways follow the same file with FileZoneMapSource.
 *
 * - Compare-and-set: under the lock, the file is read again and its `version` must still be
 *   the one the change was based on; the new map is written to a temporary file in the same
 *   folder, fsynced, and renamed over the map, so a gateway (or a crash) never sees half a map.
 * - The lock is `<map>.lock`, created with O_EXCL: two CLIs at once take turns, and the second
 *   one's compare-and-set sees the first one's version. A lock left by a process that died is
 *   taken over (same host, pid gone); one held longer than `lockTimeoutMs` by a live process is
 *   reported, never broken.
 * - History: `<map>.history.jsonl`, one JSON object per line per write (the whole history
 *   write, its version, previous version and time, and the map), appended and fsynced under
 *   the same lock after the rename. Lines that do not parse are skipped, so a line cut short by
 *   a crash does not hide the others.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, extname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DocumentReadError } from '../../core/errors.js';
import { MAX_DOCUMENT_BYTES, parseDocument, serializeZoneMap } from '../load.js';
import type { ZoneMapDoc } from '../model.js';
import { ZoneMapConflictError, ZoneMapStoreUnavailableError, ZoneMapVersionNotFoundError } from './errors.js';
import type { GatewayReport } from './gateway-report.js';
import type { HistoryEntry, HistoryWrite } from './history-entry.js';
import { HISTORY_MAX_ENTRIES } from './redis-store.js';
import { decodeStoredMap } from './stored-map.js';
import type { RawStoredMap, ZoneMapStore } from './store.js';

export interface FileZoneMapStoreOptions {
  /** How long a write waits for another writer's lock before giving up (default 5000). */
  readonly lockTimeoutMs?: number;
  /** Past this size the history is compacted to its newest HISTORY_MAX_ENTRIES lines (default 16 MiB). */
  readonly historyMaxBytes?: number;
}

export const FILE_STORE_DEFAULTS = { lockTimeoutMs: 5000, historyMaxBytes: 16 * 1024 * 1024 } as const;

/** The history file kept beside a map file. */
export function historyFileOf(mapFile: string): string {
  return `${mapFile}.history.jsonl`;
}

/** What one history line holds besides the HistoryWrite fields it spreads. */
interface HistoryLine {
  readonly version: number;
  readonly previous: number | null;
  readonly at: string;
  readonly map: unknown;
}

const KNOWN_FIELDS = new Set(['version', 'previous', 'at', 'who', 'reason', 'action', 'summary', 'map']);

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** One history line, or null when it is not one of ours (cut short, hand-edited, foreign). */
function parseLine(line: string, id: string): { entry: HistoryEntry; map: unknown } | null {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return null;
  const r = o as Record<string, unknown>;
  const version = r['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version)) return null;
  const prev = r['previous'];
  // Fields added to HistoryWrite later (a drill id, a plan name) come back as written.
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!KNOWN_FIELDS.has(k)) extra[k] = v;
  return {
    entry: {
      ...extra,
      id,
      version,
      previous: typeof prev === 'number' && Number.isSafeInteger(prev) ? prev : null,
      at: str(r['at']),
      who: str(r['who']),
      reason: str(r['reason']),
      action: str(r['action']),
      summary: str(r['summary']),
    },
    map: r['map'],
  };
}

export class FileZoneMapStore implements ZoneMapStore {
  readonly path: string;
  readonly historyPath: string;
  readonly lockPath: string;
  readonly description: string;
  readonly #lockTimeoutMs: number;
  readonly #historyMaxBytes: number;
  readonly #format: 'yaml' | 'json';

  constructor(path: string, options: FileZoneMapStoreOptions = {}) {
    this.path = path;
    this.historyPath = historyFileOf(path);
    this.lockPath = `${path}.lock`;
    this.description = `file ${path}`;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? FILE_STORE_DEFAULTS.lockTimeoutMs;
    this.#historyMaxBytes = options.historyMaxBytes ?? FILE_STORE_DEFAULTS.historyMaxBytes;
    // A YAML map stays YAML (comments are not kept); anything else is written as JSON.
    this.#format = /^\.ya?ml$/i.test(extname(path)) ? 'yaml' : 'json';
  }

  /** Checks the folder is there, so a typo fails before any change is computed. */
  static async open(path: string, options?: FileZoneMapStoreOptions): Promise<FileZoneMapStore> {
    const store = new FileZoneMapStore(path, options);
    try {
      const s = await stat(dirname(path));
      if (!s.isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new ZoneMapStoreUnavailableError(
        `cannot use ${store.description}: its folder ${dirname(path)} is not usable (${errno(err) ?? (err as Error).message})`,
        err,
      );
    }
    return store;
  }

  /**
   * The map as JSON with its version. YAML is converted; a file that does not parse comes
   * back as its text with no version, so readCurrent reports why and `map apply` can replace it.
   */
  async readRaw(): Promise<RawStoredMap> {
    const text = await this.#readText(this.path, 'read the zone map');
    if (text === null) return { version: null, json: null };
    let parsed: unknown;
    try {
      parsed = parseDocument(text, this.path);
    } catch {
      return { version: null, json: text };
    }
    const v = (parsed as { version?: unknown } | null)?.version;
    return {
      version: typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : null,
      json: JSON.stringify(parsed),
    };
  }

  async compareAndSet(doc: ZoneMapDoc, expected: number | null, meta: HistoryWrite): Promise<void> {
    const release = await this.#lock();
    try {
      // Read again under the lock: this is the check another writer cannot slip past.
      const raw = await this.readRaw();
      const actual = raw.version === null ? null : Number(raw.version);
      if (actual !== expected) throw new ZoneMapConflictError(expected, actual);
      await this.#replace(this.path, serializeZoneMap(doc, this.#format));
      // After the rename: a history line always describes a map that was written. A crash in
      // between leaves a map without its line, which rollback already copes with (a map
      // "written around the CLI").
      const line: HistoryLine & HistoryWrite = {
        ...meta,
        version: doc.version,
        previous: expected,
        at: new Date().toISOString(),
        map: doc,
      };
      await this.#append(`${JSON.stringify(line)}\n`);
    } finally {
      await release();
    }
  }

  /** Newest first. */
  async history(limit: number): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    for (const { entry } of await this.#entries()) {
      if (out.length >= limit) break;
      out.push(entry);
    }
    return out;
  }

  async historyDoc(version: number): Promise<{ entry: HistoryEntry; doc: ZoneMapDoc }> {
    const entries = await this.#entries();
    for (const { entry, map } of entries) {
      if (entry.version === version) {
        return {
          entry,
          doc: decodeStoredMap(null, JSON.stringify(map), `history ${entry.id} (version ${version})`),
        };
      }
    }
    throw new ZoneMapVersionNotFoundError(version, entries.at(-1)?.entry.version ?? null);
  }

  /** Gateways following a file do not report (there is no shared place to report to). */
  async gateways(): Promise<GatewayReport[]> {
    return Promise.resolve([]);
  }

  async forgetGateway(): Promise<void> {
    return Promise.resolve();
  }

  /** Holds nothing open between calls. */
  async close(): Promise<void> {
    return Promise.resolve();
  }

  /** History entries, newest first; ids are `<history file>:<line>`. */
  async #entries(): Promise<{ entry: HistoryEntry; map: unknown }[]> {
    const text = await this.#readText(this.historyPath, 'read the history');
    if (text === null) return [];
    const name = basename(this.historyPath);
    const out: { entry: HistoryEntry; map: unknown }[] = [];
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i] as string;
      if (line.trim() === '') continue;
      const parsed = parseLine(line, `${name}:${i + 1}`);
      if (parsed !== null) out.push(parsed);
    }
    return out;
  }

  async #readText(path: string, what: string): Promise<string | null> {
    try {
      const s = await stat(path);
      if (s.size > MAX_DOCUMENT_BYTES * 4) {
        throw new DocumentReadError(`${path}: larger than ${MAX_DOCUMENT_BYTES * 4} bytes`);
      }
      return await readFile(path, 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') return null;
      if (err instanceof DocumentReadError) throw err;
      throw new ZoneMapStoreUnavailableError(
        `could not ${what} in ${this.description}: ${errno(err) ?? (err as Error).message}`,
        err,
      );
    }
  }

  /** Temporary file beside the target, fsync, rename over it, fsync the folder. */
  async #replace(path: string, text: string): Promise<void> {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      await this.#syncDir();
    } catch (err) {
      await rm(tmp, { force: true });
      throw new ZoneMapStoreUnavailableError(
        `could not write the zone map in ${this.description}: ${errno(err) ?? (err as Error).message}`,
        err,
      );
    }
  }

  async #append(line: string): Promise<void> {
    try {
      const fh = await open(this.historyPath, 'a', 0o644);
      try {
        await fh.appendFile(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if ((await stat(this.historyPath)).size > this.#historyMaxBytes) await this.#compact();
    } catch (err) {
      throw new ZoneMapStoreUnavailableError(
        `the zone map was written but its history line could not be (${this.historyPath}: ` +
          `${errno(err) ?? (err as Error).message})`,
        err,
      );
    }
  }

  /** Keeps the newest HISTORY_MAX_ENTRIES lines, like the Redis stream's cap. */
  async #compact(): Promise<void> {
    const lines = (await readFile(this.historyPath, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    await this.#replace(this.historyPath, `${lines.slice(-HISTORY_MAX_ENTRIES).join('\n')}\n`);
  }

  async #syncDir(): Promise<void> {
    let dir: FileHandle | undefined;
    try {
      dir = await open(dirname(this.path), 'r');
      await dir.sync();
    } catch {
      // Some file systems refuse fsync on a folder; the rename itself is still atomic.
    } finally {
      await dir?.close();
    }
  }

  /** Takes `<map>.lock` (O_EXCL); resolves to its release. */
  async #lock(): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.#lockTimeoutMs;
    const me = `${process.pid} ${hostname()} ${new Date().toISOString()}\n`;
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      try {
        const fh = await open(this.lockPath, 'wx', 0o644);
        try {
          await fh.writeFile(me);
        } finally {
          await fh.close();
        }
        return () => rm(this.lockPath, { force: true });
      } catch (err) {
        if (errno(err) !== 'EEXIST') {
          throw new ZoneMapStoreUnavailableError(
            `cannot lock ${this.description} (${this.lockPath}: ${errno(err) ?? (err as Error).message})`,
            err,
          );
        }
      }
      const holder = await this.#lockHolder();
      if (holder !== null && holder.dead) {
        await this.#breakStaleLock(holder.text);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new ZoneMapStoreUnavailableError(
          `${this.description} is locked by another writer (${this.lockPath}: ${holder?.text ?? 'unreadable'}); ` +
            `waited ${this.#lockTimeoutMs} ms. Remove the lock file only if that process is gone`,
        );
      }
      // Jitter: two waiters must not retry in lock step.
      await sleep(wait + Math.floor(Math.random() * wait));
    }
  }

  /**
   * Whoever held the lock died mid-write (its temporary file, if any, was never renamed).
   * Two waiters may both see that: each moves the lock aside under a name of its own and
   * removes it only if it is still the dead one's; a fresh lock moved aside by mistake is put
   * back (link fails if a third writer took the name meanwhile, which is then theirs).
   */
  async #breakStaleLock(deadText: string): Promise<void> {
    const aside = `${this.lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
    try {
      await rename(this.lockPath, aside);
    } catch {
      return; // someone else broke it first
    }
    const text = (await readFile(aside, 'utf8').catch(() => '')).trim();
    if (text !== deadText) await link(aside, this.lockPath).catch(() => undefined);
    await rm(aside, { force: true });
  }

  async #lockHolder(): Promise<{ text: string; dead: boolean } | null> {
    let text: string;
    try {
      text = (await readFile(this.lockPath, 'utf8')).trim();
    } catch {
      return null;
    }
    const [pid, host] = text.split(' ');
    const n = Number(pid);
    if (host !== hostname() || !Number.isSafeInteger(n) || n <= 0) return { text, dead: false };
    try {
      process.kill(n, 0);
      return { text, dead: false };
    } catch (err) {
      return { text, dead: errno(err) === 'ESRCH' };
    }
  }
}
