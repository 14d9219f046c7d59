import type { Command } from '../command.js';
import { statusCommands } from './status-commands.js';

/** `city up|drain|down CITY`. */
export const cityCommands: readonly Command[] = statusCommands({
  noun: 'city',
  label: 'CITY',
  summary: (status) => `Mark a city (site) ${status}: every IDC and zone in it follows.`,
});
