/**
 * Waiting in tests, one copy for every suite. Prefer an event (`once(emitter, 'close')`, a log
 * line, a 'map' at a version); where the state has no event, `waitFor` polls it against a
 * generous deadline and fails naming what it waited for. A fixed delay before an assertion is
 * never the way: a loaded machine makes it flaky, an idle one makes it slow.
 */
import { settledWithin } from '../../src/core/timeout.js';

/**
 * Polls `check` until it returns true; rejects with "timed out after N ms waiting for <what>"
 * when it has not by then. `check` may throw to fail at once (a child that exited).
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  stepMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/**
 * A pause for pacing what a test itself sends (a slowloris byte every 50 ms, a retry loop's
 * back-off). Not for waiting on the system under test: use an event or `waitFor`.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Resolves once `promise` settles, or rejects naming `what` after timeoutMs: an awaited event
 * that never comes fails the test with a reason instead of hanging until the runner's timeout.
 */
export async function within<T>(what: string, promise: Promise<T>, timeoutMs = 10_000): Promise<T> {
  if (await settledWithin(promise, timeoutMs)) return promise;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
