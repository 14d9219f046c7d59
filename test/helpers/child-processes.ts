/**
 * What every test helper that spawns a server needs: a free port, and a guarantee that no
 * child outlives the test file. Tracked children are SIGKILLed on `exit`, and on SIGINT /
 * SIGTERM (a runner timeout, Ctrl-C), when `exit` does not fire.
 */
import { execFile, type ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  const onSignal = (): void => {
    killAll();
    process.removeListener(sig, onSignal);
    // Die of the same signal unless someone else handles it.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.on(sig, onSignal);
}

/** Registers a child to be SIGKILLed if the test process ends while it still runs. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Stops tracking a child the caller has already stopped. */
export function untrack(child: ChildProcess): void {
  live.delete(child);
}

/**
 * A free TCP port on 127.0.0.1: the lab's copy (src/lab/processes.ts), which the lab, the
 * benches and the tests all need identically, so there is one.
 */
export { freePort } from '../../src/lab/processes.js';

/** What a finished command printed, and its exit status. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Killed, and the promise rejected, when still running after this (30 s by default). */
  readonly timeoutMs?: number;
  /** Written to its stdin, which is then closed. */
  readonly input?: string;
}

/**
 * Runs a command to its end: resolves with its exit status and output whatever the status,
 * rejects only when it could not start or was killed by the timeout (a hang is a failure).
 */
export function exec(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000 },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          // Not an exit status: it could not be started, or the timeout killed it.
          reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`, { cause: err }));
          return;
        }
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
      },
    );
    track(child);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** SIGTERM, SIGKILL after graceMs, and resolves once it has exited. Idempotent. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
