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
import { statusCommands } from './status-commands.js';

const ZONE_SUMMARY: Record<Status, string> = {
  up: 'Mark a zone up: its shards come back to it from its standby.',
  drain: 'Drain a zone: its users move to its first live standby gradually.',
  down: 'Take a zone down: its users move to its first live standby at once.',
};

const zoneWeight: Command = {
  name: 'zone weight',
  summary: "Set a zone's share of anonymous traffic among the zones of its IDC.",
  usage: `zonegate zone weight ZONE N ${STORE_USAGE} ${CHANGE_USAGE}`,
  options: { ...STORE_OPTIONS, ...CHANGE_OPTIONS },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const [zone, n, ...extra] = positionals;
    if (zone === undefined || n === undefined || extra.length > 0)
      throw new UsageError('give a zone and a weight');
    const { runChange, zoneWeightPlan } = await import('../../drill/index.js');
    const plan = zoneWeightPlan(zone, n);
    return runChange(await openStoreFrom(values), changeFlagsFrom(values), plan, io);
  },
};

/** `zone up|drain|down ZONE` and `zone weight ZONE N`. */
export const zoneCommands: readonly Command[] = [
  zoneWeight,
  ...statusCommands({
    noun: 'zone',
    label: 'ZONE',
    summary: (status) => ZONE_SUMMARY[status],
  }),
];
