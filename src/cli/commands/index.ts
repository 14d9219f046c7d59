import type { Command } from '../command.js';
import { mapValidate } from './map-validate.js';
import { route } from './route.js';

/** Every `zonegate` command. Add one import and one entry per command file. */
export const commands: readonly Command[] = [route, mapValidate];
