import type { ParseArgsConfig } from 'node:util';

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface ParsedArgs {
  readonly values: OptionValues;
  readonly positionals: string[];
}

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
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
