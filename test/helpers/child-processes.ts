/**
 * What every test helper that spawns a server needs: a free port, and a guarantee that no
 * child outlives the test file. Tracked children are SIGKILLed on `exit`, and on SIGINT /
 * SIGTERM (a runner timeout, Ctrl-C), when `exit` does not fire.
 */
import type { ChildProcess } from 'node:child_process';

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
