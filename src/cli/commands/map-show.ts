import { UsageError } from '../../core/errors.js';
import { STORE_OPTIONS, STORE_USAGE, openStoreFrom } from '../../drill/cli-options.js';
import { flag, oneOf, optionalString } from '../../core/args.js';
import type { Command } from '../command.js';

export const mapShow: Command = {
  name: 'map show',
  summary: 'Print the zone map in the store (or an earlier version from its history).',
  usage: `zonegate map show [--version N] [--format yaml|json | --json] ${STORE_USAGE}`,
  options: {
    ...STORE_OPTIONS,
    version: { type: 'string' },
    format: { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: false,
  async run({ values }, io) {
    // --json is every command's spelling of "machine-readable"; --format json says the same.
    const format = flag(values, 'json') ? 'json' : oneOf(values, 'format', ['yaml', 'json'] as const, 'yaml');
    const v = optionalString(values, 'version');
    const version = v === undefined ? undefined : Number(v);
    if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
      throw new UsageError(`--version must be a positive integer (got '${v}')`);
    }
    const { readCurrent } = await import('../../drill/index.js');
    const { serializeZoneMap } = await import('../../zonemap/index.js');
    const { ZoneMapNotFoundError } = await import('../../zonemap/stores/errors.js');
    const store = await openStoreFrom(values);
    try {
      if (version !== undefined) {
        io.out(serializeZoneMap((await store.historyDoc(version)).doc, format));
        return 0;
      }
      const current = await readCurrent(store);
      if (current.problem !== null) {
        // Show what is there anyway: an SRE needs to see the bad map to fix it.
        const raw = await store.readRaw();
        io.out(raw.json ?? '');
        throw current.problem;
      }
      if (current.doc === null) throw new ZoneMapNotFoundError(`no zone map in ${store.description}`);
      io.out(serializeZoneMap(current.doc, format));
      return 0;
    } finally {
      await store.close();
    }
  },
};
