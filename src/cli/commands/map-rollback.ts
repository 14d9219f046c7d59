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
    let target = wanted;
    const { runChange } = await import('../../drill/index.js');
    const { ZoneMapVersionNotFoundError } = await import('../../zonemap/stores/errors.js');
    return runChange(
      await openStoreFrom(values),
      changeFlagsFrom(values),
      {
        // A getter: without VERSION the target is only known once build() has read history,
        // and runChange reads the action after build() for its output and the history entry.
        get action() {
          return `rollback to ${target ?? 'previous'}`;
        },
        build: async (current, store) => {
          if (target === undefined) {
            // "The one before" is what the current version replaced, per its history entry.
            // When the current map never went through a write (hand-written into Redis, maybe
            // invalid), the newest history entry is the last map written properly.
            const [latest] = await store.history(1);
            const prev = latest?.version === current.version ? latest.previous : (latest?.version ?? null);
            if (prev === null || prev === undefined) {
              throw new ZoneMapVersionNotFoundError(Math.max(0, (current.version ?? 1) - 1), null);
            }
            target = prev;
          }
          return (await store.historyDoc(target)).doc;
        },
      },
      io,
    );
  },
};
