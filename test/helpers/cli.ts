import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
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

/** Runs the CLI from source in a process of its own (`node --import tsx src/cli/run.ts ...`). */
export function runCliProcess(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return runNode(['--import', 'tsx', `${REPO_ROOT}src/cli/run.ts`, ...args], opts);
}

/** Runs the installed entry point (bin/zonegate.js → dist/), as `npx zonegate` does. */
export function runInstalledCli(args: readonly string[]): Promise<CliResult> {
  return runNode([`${REPO_ROOT}bin/zonegate.js`, ...args], {});
}

function runNode(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000 },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          // Not an exit status: the process could not be started or was killed by the timeout.
          reject(new Error(`cli run failed: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
      },
    );
  });
}
