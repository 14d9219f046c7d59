import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exec, track, type ExecOptions, type ExecResult } from './child-processes.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type CliResult = ExecResult;

/**
 * A scratch directory for the calling test file: made before its tests, removed after them.
 * Call at module level; the returned function gives the path (valid once `before` has run).
 */
export function tempDirForFile(prefix: string): () => string {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}

export interface CliOptions {
  /**
   * Environment variables set (a string) or removed (undefined) for the run, then restored.
   * Tests in one file run one after another, so nothing else sees the change.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Runs `zonegate ARGS` in this process through `main(argv, io)`: the same parsing, commands,
 * messages and exit codes as the binary, without a Node start (~0.4 s) per command. What only a
 * real process shows (the exit status through bin/zonegate.js, signals, a handle that keeps the
 * process alive) is tested with `runInstalledCli` / `runCliProcess`.
 */
export async function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  // Loaded on first use: most files import this module for REPO_ROOT alone.
  const { main } = await import('../../src/cli/main.js');
  const restore = setEnv(opts.env ?? {});
  try {
    // The same newline rule as main()'s process io.
    const code = await main(args, {
      out: (t) => (stdout += t.endsWith('\n') ? t : `${t}\n`),
      err: (t) => (stderr += t.endsWith('\n') ? t : `${t}\n`),
    });
    return { code, stdout, stderr };
  } finally {
    restore();
  }
}

function setEnv(env: Readonly<Record<string, string | undefined>>): () => void {
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  const apply = (entries: readonly (readonly [string, string | undefined])[]): void => {
    for (const [k, v] of entries) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(Object.entries(env));
  return () => apply(saved);
}

/** The command line that runs the CLI from source: `node --import tsx src/cli/run.ts ARGS`. */
export function zonegateCommand(args: readonly string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', `${REPO_ROOT}src/cli/run.ts`, ...args]];
}

/** Runs the CLI from source in a process of its own, to its end. */
export function runCliProcess(
  args: readonly string[],
  opts: Omit<ExecOptions, 'input'> = {},
): Promise<CliResult> {
  const [file, argv] = zonegateCommand(args);
  return exec(file, argv, { cwd: REPO_ROOT, ...opts });
}

/** Runs the installed entry point (bin/zonegate.js → dist/), as `npx zonegate` does. */
export function runInstalledCli(args: readonly string[]): Promise<CliResult> {
  return exec(process.execPath, [`${REPO_ROOT}bin/zonegate.js`, ...args], { cwd: REPO_ROOT });
}

/**
 * A long-running `zonegate ARGS` (start, console) from source: tracked (killed if the test
 * process ends first), stdout and stderr piped for the caller to read.
 */
export function spawnZonegate(args: readonly string[]): ChildProcess {
  const [file, argv] = zonegateCommand(args);
  const child = spawn(file, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  return child;
}
