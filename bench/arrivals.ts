/** How long a change may take to reach its listener before the bench gives up on it, rather than hang. */
const ARRIVAL_TIMEOUT_MS = 10_000;

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/**
 * The changes a writer waits to see arrive at a listener (a LISTEN callback, a watch), by prefix
 * and key: the watch workload writes a new key per change, so the two name it.
 */
export class Arrivals {
  readonly #waiting = new Map<string, Waiter>();
  /** Why the listener stopped, once it has: later waits reject with it at once. */
  #failure: { error: unknown } | undefined;

  /** Resolves when the change of `(prefix, key)` arrives; call it before the write. */
  expect(prefix: string, key: string): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    const id = JSON.stringify([prefix, key]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`the change of ${prefix} ${key} did not arrive within ${ARRIVAL_TIMEOUT_MS} ms`));
      }, ARRIVAL_TIMEOUT_MS);
      timer.unref();
      this.#waiting.set(id, { resolve, reject, timer });
    });
  }

  /** A change of `(prefix, key)` arrived; changes no one waits for are ignored. */
  arrive(prefix: string, key: string): void {
    const id = JSON.stringify([prefix, key]);
    const waiter = this.#waiting.get(id);
    if (waiter === undefined) return;
    this.#waiting.delete(id);
    clearTimeout(waiter.timer);
    waiter.resolve();
  }

  /** The listener stopped with `error`: every wait, pending or later, rejects with it. */
  fail(error: unknown): void {
    this.#failure = { error };
    for (const waiter of this.#waiting.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.#waiting.clear();
  }
}
