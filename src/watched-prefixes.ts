import { pause } from "./pause.js";

/** How long a mark of migration 0005's workflow_store_watches lasts unless renewed, in seconds. */
export const WATCH_MARK_SECONDS = 30;

/** How often a store renews its marks, and reads its watched prefixes again whatever it was told. */
export const RENEW_MS = 10_000;

/** The longest wait between two looks at the writers a watch waits out. */
const MAX_WRITER_POLL_MS = 50;

/**
 * The prefixes a store (with its transactions' stores) watches, marked as watched in the database
 * so that their writes notify: each is marked when its first watch starts, and every mark is
 * renewed every {@link RENEW_MS} while watched. Marks of prefixes nobody watches any more expire on
 * their own ({@link WATCH_MARK_SECONDS}), which also covers a store that died.
 *
 * Each renewal also wakes the store's watches (`onRenew`): a write whose transaction did not see
 * the mark (one that began before it, under REPEATABLE READ) does not notify, and is read then.
 */
export class WatchedPrefixes {
  readonly #mark: (prefixes: string[]) => Promise<void>;
  readonly #onRenew: () => void;
  readonly #counts = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(mark: (prefixes: string[]) => Promise<void>, onRenew: () => void) {
    this.#mark = mark;
    this.#onRenew = onRenew;
  }

  /** Marks `prefix` as watched (at once, before resolving) until the returned function is called. */
  async add(prefix: string): Promise<() => void> {
    await this.#mark([prefix]);
    this.#counts.set(prefix, (this.#counts.get(prefix) ?? 0) + 1);
    this.#timer ??= setInterval(() => this.#renew(), RENEW_MS).unref();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const count = (this.#counts.get(prefix) ?? 1) - 1;
      if (count > 0) this.#counts.set(prefix, count);
      else this.#counts.delete(prefix);
      if (this.#counts.size === 0) this.close();
    };
  }

  /** Stops renewing. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #renew(): void {
    // A failed renewal is tried again at the next; the marks outlive two missed ones.
    this.#mark([...this.#counts.keys()]).catch(() => {});
    this.#onRenew();
  }
}

/** What {@link settle} reads: the last revision given out and the transactions writing the prefix. */
export interface Horizon {
  revision: number;
  writers: string[];
}

/**
 * Waits until the writers that `horizon` finds have all ended, looking again with a growing pause
 * (1 ms doubling to 50), and resolves with the revision it read first: every change up to it is then
 * committed or never will be. Writers that began after the first look took later revisions, so they
 * are not waited for. Rejects with `signal`'s reason when it aborts.
 */
export async function settle(horizon: () => Promise<Horizon>, signal: AbortSignal): Promise<number> {
  const first = await horizon();
  let waiting = first.writers;
  for (let wait = 1; waiting.length > 0; wait = Math.min(wait * 2, MAX_WRITER_POLL_MS)) {
    await pause(wait);
    signal.throwIfAborted();
    const still = new Set((await horizon()).writers);
    waiting = waiting.filter((writer) => still.has(writer));
  }
  return first.revision;
}
