import type { ParseArgsConfig } from 'node:util';

import type { CliIo, OptionValues } from '../core/args.js';

export type { CliIo, OptionValues };

export interface ParsedArgs {
  readonly values: OptionValues;
  readonly positionals: string[];
}

/** One `zonegate` sub-command; one file each under src/cli/commands/. */
export interface Command {
  /** Words that select it, e.g. `map validate`. */
  readonly name: string;
  readonly summary: string;
  /** Usage line(s) shown with --help and on a usage error. */
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  readonly allowPositionals: boolean;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}
