import { UsageError } from '../../core/errors.js';
import {
  CHANGE_OPTIONS,
  CHANGE_USAGE,
  STORE_OPTIONS,
  STORE_USAGE,
  changeFlagsFrom,
  openStoreFrom,
} from '../../drill/cli-options.js';
import type { Command } from '../command.js';

export const mapRollback: Command = {
  name: 'map rollback',
  summary:
    'Write an earlier version of the zone map again, as a new version (default: the one before the current; ' +
    'after a map written around the CLI, the last one written through it).',
  usage: `zonegate map rollback [VERSION] ${STORE_USAGE} ${CHANGE_USAGE}`,
  options: { ...STORE_OPTIONS, ...CHANGE_OPTIONS },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const [v, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError('name at most one version');
    const wanted = v === undefined ? undefined : Number(v);
    if (wanted !== undefined && (!Number.isSafeInteger(wanted) || wanted < 1)) {
      throw new UsageError(`VERSION must be a positive integer (got '${v}')`);
    }
    const { rollbackPlan, runChange } = await import('../../drill/index.js');
    return runChange(await openStoreFrom(values), changeFlagsFrom(values), rollbackPlan(wanted), io);
  },
};
