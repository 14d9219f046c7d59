import { UsageError } from '../../core/errors.js';
import {
  CHANGE_OPTIONS,
  CHANGE_USAGE,
  STORE_OPTIONS,
  STORE_USAGE,
  changeFlagsFrom,
  openStoreFrom,
} from '../../drill/cli-options.js';
import { requiredString } from '../../core/args.js';
import type { Command } from '../command.js';

const shardsMove: Command = {
  name: 'shards move',
  summary: 'Give shards (e.g. 30-34,39) to another RZone: an elastic move of their users.',
  usage: `zonegate shards move RANGE[,RANGE...] --to ZONE ${STORE_USAGE} ${CHANGE_USAGE}`,
  options: { ...STORE_OPTIONS, ...CHANGE_OPTIONS, to: { type: 'string' } },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const specs = positionals.flatMap((p) => p.split(',')).filter((s) => s !== '');
    if (specs.length === 0) throw new UsageError('name the shards to move, e.g. 30-34');
    const to = requiredString(values, 'to');
    const { runChange, shardsMovePlan } = await import('../../drill/index.js');
    return runChange(await openStoreFrom(values), changeFlagsFrom(values), shardsMovePlan(specs, to), io);
  },
};

export const shardsCommands: readonly Command[] = [shardsMove];
