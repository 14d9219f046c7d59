/** Small helpers every benchmark that starts peers (nginx, HAProxy, upstreams) needs. */
import { spawnSync } from 'node:child_process';

/** Whether a peer's binary is installed (its rows are skipped, and the table says so, if not). */
export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * A loopback port free right now, for a child process that cannot report the one it bound: the
 * lab's copy, which the tests use too (it also never hands out 6379 or 1883).
 */
export { freePort } from '../src/lab/processes.js';
