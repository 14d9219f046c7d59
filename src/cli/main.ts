import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import {
  DocumentReadError,
  InvalidConfigError,
  InvalidZoneMapError,
  UsageError,
  ZonegateError,
} from '../core/errors.js';
import type { CliIo, Command } from './command.js';
import { commands } from './commands/index.js';

/** Exit codes (docs/design.md "CLI"): 0 ok, 1 runtime failure, 2 bad usage or invalid input. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const stdio: CliIo = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** package.json's version: two folders up from src/cli/ and dist/cli/ alike. */
export function version(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return pkg.version;
}

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: zonegate <command> [options]    zonegate --version',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'zonegate <command> --help' for a command's options.",
    'Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid input.',
    "Commands that print a result take --json; shell completion: 'zonegate completion bash|zsh'.",
  ].join('\n');
}

/** Finds the command whose words start argv, preferring the longest (`map validate` over `map`). */
function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | null {
  let best: Command | null = null;
  let bestLen = 0;
  for (const c of commands) {
    const words = c.name.split(' ');
    if (words.length > bestLen && words.every((w, i) => argv[i] === w)) {
      best = c;
      bestLen = words.length;
    }
  }
  return best === null ? null : { command: best, rest: argv.slice(bestLen) };
}

export async function main(argv: readonly string[], io: CliIo = stdio): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? io.err : io.out)(help());
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    io.out(`zonegate ${version()} (node ${process.version})`);
    return EXIT_OK;
  }
  const found = findCommand(argv);
  if (found === null) {
    io.err(`zonegate: unknown command '${argv.slice(0, 2).join(' ')}'\n\n${help()}`);
    return EXIT_USAGE;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: ${command.usage}\n\n${command.summary}`);
    return EXIT_OK;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: command.options,
        allowPositionals: command.allowPositionals,
        strict: true,
      });
    } catch (err) {
      // node:util throws TypeError with ERR_PARSE_ARGS_* codes for unknown or malformed options.
      throw new UsageError((err as Error).message);
    }
    return await command.run({ values: parsed.values, positionals: parsed.positionals }, io);
  } catch (err) {
    return report(err, command, io);
  }
}

function report(err: unknown, command: Command, io: CliIo): number {
  if (err instanceof UsageError) {
    io.err(`zonegate ${command.name}: ${err.message}\nusage: ${command.usage}`);
    return EXIT_USAGE;
  }
  if (
    err instanceof InvalidZoneMapError ||
    err instanceof InvalidConfigError ||
    err instanceof DocumentReadError
  ) {
    io.err(`zonegate ${command.name}: ${err.message}`);
    return EXIT_USAGE;
  }
  if (err instanceof ZonegateError) {
    io.err(`zonegate ${command.name}: ${err.message} [${err.code}]`);
    return EXIT_FAILURE;
  }
  io.err(
    `zonegate ${command.name}: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  return EXIT_FAILURE;
}
