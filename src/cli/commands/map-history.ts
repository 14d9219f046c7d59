import { UsageError } from '../../core/errors.js';
import { STORE_OPTIONS, STORE_USAGE, openStoreFrom } from '../../drill/cli-options.js';
import { flag, optionalString } from '../../core/args.js';
import type { Command } from '../command.js';

export const mapHistory: Command = {
  name: 'map history',
  summary: 'List the latest writes of the zone map: version, when, who, what and why.',
  usage: `zonegate map history [--limit N] [--json] ${STORE_USAGE}`,
  options: { ...STORE_OPTIONS, limit: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: false,
  async run({ values }, io) {
    const l = optionalString(values, 'limit') ?? '20';
    const limit = Number(l);
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new UsageError(`--limit must be a positive integer (got '${l}')`);
    const store = await openStoreFrom(values);
    try {
      const entries = await store.history(limit);
      if (flag(values, 'json')) {
        io.out(JSON.stringify(entries, null, 2));
        return 0;
      }
      if (entries.length === 0) {
        io.out('no history');
        return 0;
      }
      for (const e of entries) {
        io.out(
          `v${e.version}  ${e.at}  ${e.who}  ${e.action}${e.reason === '' ? '' : `  reason: ${e.reason}`}`,
        );
        io.out(`      ${e.summary}`);
        if (e.drill !== undefined)
          io.out(`      drill ${e.drill}${e.plan === undefined ? '' : ` (plan ${e.plan})`}`);
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};
