import { StoreError } from "./errors.js";
import { checkWatchOptions } from "./input.js";
import type { WatchEvent } from "./types.js";

/**
 * Where a watch reads changes from: live ones as they commit, and those after a revision from
 * storage. The PostgreSQL stores build one over LISTEN/NOTIFY and their tables, the memory store
 * over its own log.
 */
export interface ChangeSource {
  /**
   * Starts delivering the committed changes of keys of exactly `prefix`, in commit order, to
   * `onChange`; resolves once delivery is live (any change committed after that is delivered).
   * `onGap` is called when changes may have been missed (a listening connection was lost and is
   * back): the watch then reads what it missed from storage. A source also calls `onGap` when its
   * store closes, with delivery stopped: reading storage then rejects with `CLOSED`, which ends the
   * watch with that error. Resolves with what stops delivery.
   */
  subscribe(prefix: string, onChange: (event: WatchEvent) => void, onGap: () => void): Promise<() => void>;
  /** Up to `limit` changes of `prefix` after revision `after`, in revision order: each key's latest set and every remove kept. */
  changesAfter(prefix: string, after: number, limit: number): Promise<WatchEvent[]>;
  /** The highest revision of a change of `prefix` that storage holds, 0 when none. */
  latestRevision(prefix: string): Promise<number>;
  /** The highest revision the change log has dropped: resuming from before it is `COMPACTED`. */
  compactedRevision(): Promise<number>;
}

/** Changes a replay reads from storage per query. */
const REPLAY_PAGE = 1000;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** Where live changes may be missing, in the queue of live changes. */
const GAP = Symbol("gap");

/** What {@link Watch.until} gives when the watch ended before the awaited promise settled. */
const ENDED = Symbol("ended");

/**
 * The iterator {@link Store.watch} returns, over a change source. Checks its arguments when
 * iteration starts (the first `next()`), rejecting with `INVALID_ARGUMENT`.
 *
 * - It subscribes before it reads storage, so no change falls between the two: with
 *   `fromRevision` it replays storage after that revision (pages of 1,000), else it starts after
 *   the prefix's latest revision; live changes at or below what it delivered are skipped.
 * - A resume from a revision below the compacted one rejects with `COMPACTED` (`revision`: the
 *   compacted revision), as etcd's watch does: list the prefix again and watch from there. The same
 *   holds for the replay after a lost listening connection, which a prefix with no change for
 *   longer than the change log's retention can meet too.
 * - `signal` aborting, or `return()` (a `break` out of `for await`), ends it: a pending `next()`
 *   resolves done and the subscription is dropped.
 * - Its store closing ends it with `CLOSED`: `next()` rejects with it once the changes received
 *   before are read. A watch started on a closed store rejects the same way.
 * - Errors of storage reads (a lost connection, say) reject `next()` and end the watch.
 * - After it ended, by an error or otherwise, `next()` resolves done.
 *
 * Changes wait in memory until read: a watcher that stops reading without ending the watch keeps
 * every later change of the prefix.
 */
export function watchChanges(
  source: ChangeSource,
  prefix: unknown,
  options: unknown,
): AsyncIterableIterator<WatchEvent> {
  return new Watch(source, prefix, options);
}

class Watch implements AsyncIterableIterator<WatchEvent> {
  readonly #source: ChangeSource;
  readonly #prefix: unknown;
  readonly #options: unknown;
  #started = false;
  #ended = false;
  readonly #ending: Promise<typeof ENDED>;
  #end: () => void = () => {};
  /** The revision of the last change delivered (or, at the start, the one the watch starts after). */
  #cursor = 0;
  /** Changes read from storage, to deliver before any live one. */
  #replayed: WatchEvent[] = [];
  /** Whether storage is to be read after the cursor: a resume, a page that was full, or a gap reached. */
  #replay = false;
  /**
   * Live changes, in commit order, not yet delivered; a gap where changes may be missing from the
   * ones after it. The changes before a gap came in full, so they are delivered before the read of
   * storage that fills it, which then starts after them.
   */
  readonly #live: (WatchEvent | typeof GAP)[] = [];
  /** Wakes the `next()` waiting for a change. */
  #wake: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  #signal: AbortSignal | undefined;
  /** `next()` calls run one after another, each after the one before settled. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(source: ChangeSource, prefix: unknown, options: unknown) {
    this.#source = source;
    this.#prefix = prefix;
    this.#options = options;
    this.#ending = new Promise((resolve) => {
      this.#end = () => resolve(ENDED);
    });
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const step = this.#queue.then(() => this.#step());
    this.#queue = step.catch(() => {});
    return step;
  }

  async return(): Promise<IteratorResult<WatchEvent>> {
    this.#finish();
    return DONE;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchEvent> {
    return this;
  }

  async #step(): Promise<IteratorResult<WatchEvent>> {
    try {
      if (!this.#started) {
        this.#started = true;
        await this.#start();
      }
      for (;;) {
        if (this.#ended) return DONE;
        const replayed = this.#replayed.shift();
        if (replayed !== undefined) return this.#deliver(replayed);
        if (this.#replay) {
          await this.#readStorage();
          continue;
        }
        const live = this.#live.shift();
        if (live === GAP) {
          this.#replay = true;
          continue;
        }
        if (live !== undefined) {
          if (live.revision > this.#cursor) return this.#deliver(live);
          continue;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } catch (error) {
      this.#finish();
      throw error;
    }
  }

  async #start(): Promise<void> {
    const { fromRevision, signal } = checkWatchOptions(this.#prefix, this.#options);
    const prefix = this.#prefix as string;
    if (signal?.aborted) {
      this.#finish();
      return;
    }
    this.#signal = signal;
    signal?.addEventListener("abort", this.#abort, { once: true });
    const subscribing = this.#source.subscribe(
      prefix,
      (event) => {
        this.#live.push(event);
        this.#wakeUp();
      },
      () => {
        this.#live.push(GAP);
        this.#wakeUp();
      },
    );
    const unsubscribe = await this.#until(subscribing, (late) => late());
    if (unsubscribe === ENDED) return;
    this.#unsubscribe = unsubscribe;
    if (fromRevision !== undefined) {
      this.#cursor = fromRevision;
      this.#replay = true;
      return;
    }
    const latest = await this.#until(this.#source.latestRevision(prefix));
    if (latest !== ENDED) this.#cursor = latest;
  }

  /**
   * Reads a page of changes after the cursor into the replay. The compacted revision is read after
   * the page: when it is still at or below the cursor, no remove after the cursor had been dropped
   * when the page was read.
   */
  async #readStorage(): Promise<void> {
    this.#replay = false;
    const prefix = this.#prefix as string;
    const after = this.#cursor;
    const page = await this.#until(this.#source.changesAfter(prefix, after, REPLAY_PAGE));
    if (page === ENDED) return;
    const compacted = await this.#until(this.#source.compactedRevision());
    if (compacted === ENDED) return;
    if (after < compacted) {
      throw new StoreError(
        "COMPACTED",
        { op: "watch", prefix },
        `the change log no longer holds the removes after revision ${after} (compacted up to ${compacted}): list the prefix again and watch from revision ${compacted} or later`,
        { revision: compacted },
      );
    }
    this.#replayed = page.filter((event) => event.revision > after);
    // A full page may have more after it; a gap during the read has set the flag already.
    if (page.length >= REPLAY_PAGE) this.#replay = true;
  }

  #deliver(event: WatchEvent): IteratorResult<WatchEvent> {
    this.#cursor = event.revision;
    return { done: false, value: event };
  }

  /**
   * Waits for `pending` unless the watch ends first; `cleanUp` then gets what `pending` resolves
   * with later, and its rejection is dropped, since nobody waits for it any more.
   */
  async #until<T>(pending: Promise<T>, cleanUp?: (late: T) => void): Promise<T | typeof ENDED> {
    const outcome = await Promise.race([pending, this.#ending]);
    if (outcome === ENDED) pending.then(cleanUp, () => {});
    return outcome;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  readonly #abort = () => this.#finish();

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#end();
    this.#signal?.removeEventListener("abort", this.#abort);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#live.length = 0;
    this.#replayed = [];
    this.#wakeUp();
  }
}
