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
  setIdcStatus,
  storeConfigFrom,
} from '../../drill/index.js';
import type { Command } from '../command.js';

function idcStatus(status: Status): Command {
  return {
    name: `idc ${status}`,
    summary: `Mark an IDC ${status}: every zone in it follows (a zone is live only when its IDC is up).`,
    usage: `zonegate idc ${status} IDC ${STORE_USAGE} ${CHANGE_USAGE}`,
    options: { ...STORE_OPTIONS, ...CHANGE_OPTIONS },
    allowPositionals: true,
    async run({ values, positionals }, io) {
      const [idc, ...extra] = positionals;
      if (idc === undefined || extra.length > 0) throw new UsageError('name exactly one IDC');
      return runChange(
        await storeConfigFrom(values),
        changeFlagsFrom(values),
        { action: `idc ${status} ${idc}`, build: (cur) => setIdcStatus(requireDoc(cur), idc, status) },
        io,
      );
    },
  };
}

/** `idc up|drain|down IDC`. */
export const idcCommands: readonly Command[] = [idcStatus('up'), idcStatus('drain'), idcStatus('down')];
