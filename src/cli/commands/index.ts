import type { Command } from '../command.js';
import { cityCommands } from './city.js';
import { idcCommands } from './idc.js';
import { mapApply } from './map-apply.js';
import { mapDiff } from './map-diff.js';
import { mapHistory } from './map-history.js';
import { mapRollback } from './map-rollback.js';
import { mapShow } from './map-show.js';
import { mapStatus } from './map-status.js';
import { releaseCommands } from './release.js';
import { shardsCommands } from './shards.js';
import { zoneCommands } from './zone.js';
import { mapValidate } from './map-validate.js';
import { route } from './route.js';
import { start } from './start.js';
import { demo } from './demo.js';
import { certsInit } from './certs-init.js';
import { drillRun } from './drill-run.js';
import { lab } from './lab.js';
import { consoleCommand } from './console.js';
import { completionCommand } from './completion.js';
import { configCheck } from './config-check.js';

/**
 * Every `zonegate` command. Add one import and one entry per command file. The table is
 * loaded by every run (help, completion), so command files import only light modules at
 * the top and `await import(...)` what their run() needs: a library one command uses (the
 * certificate stack, ioredis) can then neither slow down nor break the others.
 */
export const commands: readonly Command[] = [
  route,
  start,
  configCheck,
  demo,
  certsInit,
  mapValidate,
  mapShow,
  mapApply,
  mapDiff,
  mapHistory,
  mapRollback,
  mapStatus,
  ...zoneCommands,
  ...idcCommands,
  ...cityCommands,
  ...shardsCommands,
  ...releaseCommands,
  drillRun,
  lab,
  consoleCommand,
  completionCommand(() => commands),
];
