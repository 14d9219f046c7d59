/**
 * One teardown list for everything a process builds: each step that holds a handle (a file
 * watcher, a Redis connection, a listening socket, a signal handler) pushes the step that
 * releases it, and `unwind` runs them newest first. A start that fails half way and a normal
 * close take the same path, so nothing started can keep the process alive.
 */
export type UndoStep = () => Promise<void> | void;

export class UndoList {
  readonly #steps: UndoStep[] = [];
  #unwound: Promise<void> | null = null;

  push(step: UndoStep): void {
    this.#steps.push(step);
  }

  /** Where the next step will go; hand it to `collapse` later. */
  mark(): number {
    return this.#steps.length;
  }

  /**
   * Replaces every step pushed since `mark` with one: a part that started completely has a
   * single graceful close that covers the steps it pushed while starting.
   */
  collapse(mark: number, step: UndoStep): void {
    this.#steps.splice(mark, this.#steps.length - mark, step);
  }

  /**
   * Runs every step once, newest first; a failing step does not stop the others (its error
   * goes to `onError`). Idempotent: a second call gets the first call's promise.
   */
  unwind(onError: (err: unknown) => void = () => undefined): Promise<void> {
    this.#unwound ??= (async () => {
      for (const step of this.#steps.splice(0).reverse()) {
        try {
          await step();
        } catch (err) {
          onError(err);
        }
      }
    })();
    return this.#unwound;
  }
}
