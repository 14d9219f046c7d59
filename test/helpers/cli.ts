import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI from source (`node --import tsx src/cli/run.ts ...`) as a user would run it. */
export function runCli(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
) {
  return runNode(['--import', 'tsx', `${REPO_ROOT}src/cli/run.ts`, ...args], opts);
}

/** Runs the installed entry point (bin/zonegate.js → dist/), as `npx zonegate` does. */
export function runInstalledCli(args: readonly string[]) {
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
