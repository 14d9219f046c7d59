import type { Command } from '../command.js';
import { statusCommands } from './status-commands.js';

/** `idc up|drain|down IDC`. */
export const idcCommands: readonly Command[] = statusCommands({
  noun: 'idc',
  label: 'IDC',
  summary: (status) =>
    `Mark an IDC ${status}: every zone in it follows (a zone is live only when its IDC is up).`,
});
