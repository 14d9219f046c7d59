import { UsageError } from '../../core/errors.js';
import type { Status } from '../../zonemap/index.js';
import {
  CHANGE_OPTIONS,
  CHANGE_USAGE,
  STORE_OPTIONS,
  STORE_USAGE,
  changeFlagsFrom,
  openStoreFrom,
} from '../../drill/cli-options.js';
import type { Command } from '../command.js';

const STATUSES: readonly Status[] = ['up', 'drain', 'down'];

export interface StatusTarget {
  /** The command word and the thing named: `zone`, `idc`, `city`. */
  readonly noun: 'zone' | 'idc' | 'city';
  /** How the usage line and errors name the positional, e.g. `IDC`. */
  readonly label: string;
  readonly summary: (status: Status) => string;
}

/** `<noun> up|drain|down NAME`: one drill command per status, all through runChange. */
export function statusCommands(target: StatusTarget): Command[] {
  return STATUSES.map((status) => ({
    name: `${target.noun} ${status}`,
    summary: target.summary(status),
    usage: `zonegate ${target.noun} ${status} ${target.label} ${STORE_USAGE} ${CHANGE_USAGE}`,
    options: { ...STORE_OPTIONS, ...CHANGE_OPTIONS },
    allowPositionals: true,
    async run({ values, positionals }, io) {
      const [name, ...extra] = positionals;
      if (name === undefined || extra.length > 0)
        throw new UsageError(`name exactly one ${target.label === 'IDC' ? 'IDC' : target.noun}`);
      const { runChange, statusPlan } = await import('../../drill/index.js');
      return runChange(
        await openStoreFrom(values),
        changeFlagsFrom(values),
        statusPlan(target.noun, name, status),
        io,
      );
    },
  }));
}
