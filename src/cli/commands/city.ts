import { UsageError } from '../../core/errors.js';
import type { Status } from '../../zonemap/index.js';
import {
  CHANGE_OPTIONS,
  CHANGE_USAGE,
  STORE_OPTIONS,
  STORE_USAGE,
  changeFlagsFrom,
  requireDoc,
  runChange,
  setCityStatus,
  storeConfigFrom,
} from '../../drill/index.js';
import type { Command } from '../command.js';

function cityStatus(status: Status): Command {
  return {
    name: `city ${status}`,
    summary: `Mark a city (site) ${status}: every IDC and zone in it follows.`,
    usage: `zonegate city ${status} CITY ${STORE_USAGE} ${CHANGE_USAGE}`,
    options: { ...STORE_OPTIONS, ...CHANGE_OPTIONS },
    allowPositionals: true,
    async run({ values, positionals }, io) {
      const [city, ...extra] = positionals;
      if (city === undefined || extra.length > 0) throw new UsageError('name exactly one city');
      return runChange(
        await storeConfigFrom(values),
        changeFlagsFrom(values),
        { action: `city ${status} ${city}`, build: (cur) => setCityStatus(requireDoc(cur), city, status) },
        io,
      );
    },
  };
}

/** `city up|drain|down CITY`. */
export const cityCommands: readonly Command[] = [cityStatus('up'), cityStatus('drain'), cityStatus('down')];
