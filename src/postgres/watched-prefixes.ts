import { randomUUID } from "node:crypto";
import { pause } from "../core/pause.js";

/** How long a mark of migration 0005's workflow_store_watches lasts unless renewed, in seconds. */
const WATCH_MARK_SECONDS = 30;

/** How often a store renews its marks, and reads its watched prefixes again whatever it was told. */
const RENEW_MS = 10_000;

/** How long a prefix's watches read it without waiting before its store takes its mark back. */
const BUSY_MS = 100;

/** The longest wait between two looks at the writers a watch waits out. */
const MAX_WRITER_POLL_MS = 50;

/**
 * Marks, or with 0 seconds takes back, `prefixes` as watched by the store `watcher` in the
 * database (workflow_store_watch of migration 0005).
 */
type Mark = (prefixes: string[], watcher: string, seconds: number) => Promise<void>;

/** What a watch tells of its prefix: whether it waits for a wake-up, or reads anyway. */
interface WatchState {
  /** The watch will wait for a wake-up: resolves once its prefix is marked, so that writes notify. */
  waiting(): Promise<void>;
  /** The watch reads again without waiting (its last read found changes). */
  reading(): void;
  /** The watch ended. */
  end(): void;
}

/**
 * The prefixes a store (with its transactions' stores) watches, marked in the database under an id
 * of the store's own, so that their writes notify, but only while one of its watches waits on the
 * prefix: a store whose watches read a busy prefix anyway (each read found changes) takes its mark
 * back after {@link BUSY_MS}, since a notification costs every writer of the prefix (PostgreSQL
 * serializes the commits of notifying transactions), and marks it again before a watch waits.
 * Marks are renewed every {@link RENEW_MS}; those of a store that died expire on their own
 * ({@link WATCH_MARK_SECONDS}).
 *
 * Each renewal also wakes the store's watches (`onRenew`): a write whose transaction did not see
 * the mark (one that began before it, under REPEATABLE READ) does not notify, and is read then.
 */
export class WatchedPrefixes {
  readonly #mark: Mark;
  readonly #onRenew: () => void;
  readonly #id = randomUUID();
  /** For each watched prefix: its watches, how many of them wait, and whether it is marked. */
  readonly #prefixes = new Map<
    string,
    { watches: number; waiting: number; marked: Promise<boolean>; unmark?: NodeJS.Timeout }
  >();
  #timer: NodeJS.Timeout | undefined;

  constructor(mark: Mark, onRenew: () => void) {
    this.#mark = mark;
    this.#onRenew = onRenew;
  }

  /** Marks `prefix` (at once, before resolving) for a new watch, which starts waiting. */
  async add(prefix: string): Promise<WatchState> {
    let entry = this.#prefixes.get(prefix);
    if (entry === undefined) {
      entry = { watches: 0, waiting: 0, marked: Promise.resolve(false) };
      this.#prefixes.set(prefix, entry);
    }
    entry.watches++;
    entry.waiting++;
    try {
      await this.#marked(prefix);
    } catch (error) {
      entry.watches--;
      entry.waiting--;
      if (entry.watches === 0) this.#prefixes.delete(prefix);
      throw error;
    }
    this.#timer ??= setInterval(() => this.#renew(), RENEW_MS).unref();
    let waits = true;
    let ended = false;
    const current = entry;
    return {
      waiting: async () => {
        if (ended) return;
        if (!waits) {
          waits = true;
          current.waiting++;
          clearTimeout(current.unmark);
          current.unmark = undefined;
        }
        await this.#marked(prefix);
      },
      reading: () => {
        if (ended || !waits) return;
        waits = false;
        current.waiting--;
        if (current.waiting === 0) this.#scheduleUnmark(prefix);
      },
      end: () => {
        if (ended) return;
        ended = true;
        if (waits) current.waiting--;
        current.watches--;
        if (current.watches === 0) {
          clearTimeout(current.unmark);
          this.#prefixes.delete(prefix);
          // Nobody waits for it; the mark expires anyway.
          this.#mark([prefix], this.#id, 0).catch(() => {});
          if (this.#prefixes.size === 0) this.close();
        } else if (current.waiting === 0) {
          this.#scheduleUnmark(prefix);
        }
      },
    };
  }

  /** Stops renewing. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const entry of this.#prefixes.values()) clearTimeout(entry.unmark);
  }

  /** Resolves once `prefix` is marked, marking it if it is not (or a mark failed). */
  async #marked(prefix: string): Promise<void> {
    const entry = this.#prefixes.get(prefix);
    if (entry === undefined) return;
    const marked = await entry.marked.catch(() => false);
    if (marked) return;
    entry.marked = this.#mark([prefix], this.#id, WATCH_MARK_SECONDS).then(() => true);
    await entry.marked;
  }

  #scheduleUnmark(prefix: string): void {
    const entry = this.#prefixes.get(prefix);
    if (entry === undefined || entry.unmark !== undefined) return;
    entry.unmark = setTimeout(() => {
      entry.unmark = undefined;
      if (entry.waiting > 0 || this.#prefixes.get(prefix) !== entry) return;
      // Marked again only after this settles, so that a wait never misses the mark it needs.
      entry.marked = entry.marked
        .catch(() => false)
        .then(() => this.#mark([prefix], this.#id, 0))
        .then(
          () => false,
          () => false,
        );
    }, BUSY_MS).unref();
  }

  #renew(): void {
    const waited = [...this.#prefixes].filter(([, entry]) => entry.waiting > 0).map(([prefix]) => prefix);
    // A failed renewal is tried again at the next; the marks outlive two missed ones.
    if (waited.length > 0) this.#mark(waited, this.#id, WATCH_MARK_SECONDS).catch(() => {});
    this.#onRenew();
  }
}

/** What {@link settle} reads: the last revision given out and the transactions writing the prefix. */
interface Horizon {
  revision: number;
  writers: string[];
}

/** Looks at the writers a watch waits out, 1 ms apart, before the pause between looks grows. */
const QUICK_WRITER_POLLS = 10;

/**
 * Waits until the writers that `horizon` finds have all ended, looking again every millisecond
 * ({@link QUICK_WRITER_POLLS} times: most writes take less), then with a pause doubling to 50 ms,
 * and resolves with the revision it read first: every change up to it is then committed or never
 * will be. Writers that began after the first look took later revisions, so they are not waited
 * for. Rejects with `signal`'s reason when it aborts.
 */
export async function settle(horizon: () => Promise<Horizon>, signal: AbortSignal): Promise<number> {
  const first = await horizon();
  let waiting = first.writers;
  for (let look = 0; waiting.length > 0; look++) {
    await pause(Math.min(2 ** Math.max(0, look - QUICK_WRITER_POLLS), MAX_WRITER_POLL_MS));
    signal.throwIfAborted();
    const still = new Set((await horizon()).writers);
    waiting = waiting.filter((writer) => still.has(writer));
  }
  return first.revision;
}
