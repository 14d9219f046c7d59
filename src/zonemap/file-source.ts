import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { DocumentReadError, InvalidZoneMapError } from '../core/errors.js';
import { loadZoneMapFile } from './load.js';
import type { CompiledZoneMap } from './model.js';
import type { ZoneMapSource, ZoneMapSourceEvents } from './source.js';

export interface FileZoneMapSourceOptions {
  readonly path: string;
  /** Coalesce bursts of change events (editors write in several steps). */
  readonly debounceMs?: number;
}

/**
 * A zone map from a local file, reloaded when it changes. We watch the directory, not the
 * file, because editors and `mv`-style atomic writes replace the inode and a file watch
 * would go quiet after the first save.
 */
export class FileZoneMapSource extends EventEmitter<ZoneMapSourceEvents> implements ZoneMapSource {
  readonly #path: string;
  readonly #debounceMs: number;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastText = '';

  constructor(options: FileZoneMapSourceOptions) {
    super();
    this.#path = options.path;
    this.#debounceMs = options.debounceMs ?? 50;
  }

  async start(): Promise<CompiledZoneMap> {
    const map = await loadZoneMapFile(this.#path);
    this.#lastText = JSON.stringify(map.doc);
    this.#watcher = watch(dirname(this.#path), (_event, name) => {
      if (name === null || name === basename(this.#path)) this.#schedule();
    });
    this.#watcher.on('error', (err) => this.emit('error', err));
    return map;
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = null;
    return Promise.resolve();
  }

  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#reload();
    }, this.#debounceMs);
  }

  async #reload(): Promise<void> {
    try {
      const map = await loadZoneMapFile(this.#path);
      const text = JSON.stringify(map.doc);
      if (text === this.#lastText) return;
      this.#lastText = text;
      this.emit('map', map);
    } catch (err) {
      if (err instanceof InvalidZoneMapError || err instanceof DocumentReadError) this.emit('invalid', err);
      else this.emit('error', err as Error);
    }
  }
}
