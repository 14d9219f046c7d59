/** `zonegate start` / `zonegate demo` as a child process, the way an operator runs them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './cli.js';

export interface GatewayProcess {
  readonly child: ChildProcess;
  /** Lines the gateway wrote to stdout / stderr so far. */
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first line (stdout or stderr) matching, or rejects after timeoutMs / on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then the exit code (SIGKILL after 10 s). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnGateway(args: readonly string[]): GatewayProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', `${REPO_ROOT}src/cli/run.ts`, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watchLines(child);
}

/** Line-by-line watch of any child started with piped stdout and stderr (a demo, mosquitto_sub). */
export function watchLines(child: ChildProcess): GatewayProcess {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  const feed = (into: string[]) => {
    let partial = '';
    return (d: Buffer): void => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      into.push(...lines);
      for (const w of waiters) w();
    };
  };
  child.stdout?.on('data', feed(stdout));
  child.stderr?.on('data', feed(stderr));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      for (const w of waiters) w();
      resolve(code);
    }),
  );
  return {
    child,
    stdout,
    stderr,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          for (const l of [...stdout, ...stderr]) {
            const m = pattern.exec(l);
            if (m !== null) {
              done();
              resolve(m);
              return;
            }
          }
          if (exited !== undefined) {
            done();
            reject(new Error(`gateway exited (${exited}) before ${pattern}: ${stderr.join('\n')}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timeout waiting for ${pattern}; stderr: ${stderr.join('\n')}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (exited !== undefined) return exited;
      child.kill(signal);
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exit;
      clearTimeout(kill);
      return code;
    },
  };
}
