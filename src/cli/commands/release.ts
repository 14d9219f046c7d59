import { UsageError } from '../../core/errors.js';
import {
  CHANGE_OPTIONS,
  CHANGE_USAGE,
  STORE_OPTIONS,
  STORE_USAGE,
  changeFlagsFrom,
  listOption,
  openStoreFrom,
} from '../../drill/cli-options.js';
import type { ReleaseChange } from '../../drill/index.js';
import { optionalString } from '../args.js';
import type { Command } from '../command.js';

const release: Command = {
  name: 'release',
  summary:
    "Move a zone's users between its blue and green upstreams (listed uids, whole shards, a percentage).",
  usage:
    `zonegate release ZONE [--green PCT] [--green-shards RANGES] [--green-uids LIST] ${STORE_USAGE} ${CHANGE_USAGE}\n` +
    '  (an empty list clears it: --green-uids "")',
  options: {
    ...STORE_OPTIONS,
    ...CHANGE_OPTIONS,
    green: { type: 'string' },
    'green-shards': { type: 'string' },
    'green-uids': { type: 'string' },
  },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const [zone, ...extra] = positionals;
    if (zone === undefined || extra.length > 0) throw new UsageError('name exactly one zone');
    const pct = optionalString(values, 'green');
    const greenShards = listOption(values, 'green-shards');
    const greenUids = listOption(values, 'green-uids');
    if (pct === undefined && greenShards === undefined && greenUids === undefined) {
      throw new UsageError('say what to release: --green, --green-shards and/or --green-uids');
    }
    const green = pct === undefined ? undefined : Number(pct);
    if (green !== undefined && (!/^\d+(\.\d+)?$/.test(pct ?? '') || green > 100)) {
      throw new UsageError(`--green must be a percentage from 0 to 100 (got '${pct}')`);
    }
    const change: ReleaseChange = {
      ...(green === undefined ? {} : { green }),
      ...(greenShards === undefined ? {} : { greenShards }),
      ...(greenUids === undefined ? {} : { greenUids }),
    };
    const words = [
      green === undefined ? '' : ` --green ${green}`,
      greenShards === undefined ? '' : ` --green-shards ${greenShards.join(',')}`,
      greenUids === undefined ? '' : ` --green-uids ${greenUids.length} uid(s)`,
    ].join('');
    const { requireDoc, runChange, setRelease } = await import('../../drill/index.js');
    return runChange(
      await openStoreFrom(values),
      changeFlagsFrom(values),
      { action: `release ${zone}${words}`, build: (cur) => setRelease(requireDoc(cur), zone, change) },
      io,
    );
  },
};

export const releaseCommands: readonly Command[] = [release];
