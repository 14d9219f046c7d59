/**
 * Small typed readers over `node:util` parseArgs values, each naming the option it complains
 * about. In core so that every folder that declares command-line options (the CLI, the drill's
 * store and change flags) reads them the same way without importing the CLI.
 */
import { UsageError } from './errors.js';

/** Where a command writes its result (out) and its complaints (err); main() or a test provides it. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** What parseArgs hands back for the options. */
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function optionalString(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} needs a value`);
  return v;
}

export function requiredString(values: OptionValues, name: string): string {
  const v = optionalString(values, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

export function oneOf<T extends string>(
  values: OptionValues,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = optionalString(values, name);
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got '${v}')`);
  }
  return v as T;
}
