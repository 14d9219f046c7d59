/**
 * Waiting for something with a bound: one copy for the drain, the exit after it and the tests.
 */

/**
 * Resolves `true` once `promise` settles (fulfilled or rejected: the caller reads the outcome
 * from the promise itself), or `false` after `timeoutMs`. The timer is cleared either way and
 * is not unref'd: a bounded wait keeps the process alive until it is over.
 */
export async function settledWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, bound]);
  } finally {
    clearTimeout(timer);
  }
}
