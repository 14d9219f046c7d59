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
import { optionalString } from '../../core/args.js';
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
    const { releasePlan, runChange } = await import('../../drill/index.js');
    const plan = releasePlan(zone, {
      ...(pct === undefined ? {} : { green: pct }),
      ...(greenShards === undefined ? {} : { greenShards }),
      ...(greenUids === undefined ? {} : { greenUids }),
    });
    return runChange(await openStoreFrom(values), changeFlagsFrom(values), plan, io);
  },
};

export const releaseCommands: readonly Command[] = [release];
