import { isRefusedLogin } from "../drivers/reconnect.js";
import { StoreError } from "./errors.js";
import { checkWatchOptions } from "./input.js";
import { pause } from "./pause.js";
import type { WatchEvent } from "./types.js";

/**
 * Where a watch reads changes from: storage, after a revision and up to one below which every
 * writer of the prefix has ended, and wake-ups that say when to read it again. The PostgreSQL
 * stores build one over their tables, LISTEN and the functions of migration 0005; the memory store
 * over its own log.
 */
export interface ChangeSource {
  /**
   * Calls `onWake` whenever a change of `prefix` may have committed since (a notification, a
   * listening connection that was lost and is back, a periodic check) while the watch waits;
   * resolves once wake-ups are live. A source also calls `onWake` when its store closes: reading
   * storage then rejects with `CLOSED`, which ends the watch with that error.
   */
  subscribe(prefix: string, onWake: () => void): Promise<Subscription>;
  /**
   * Waits until every transaction that had taken a revision for `prefix` has ended, and resolves
   * with the last revision given out before it looked: storage then holds every change of the
   * prefix up to that revision that will ever commit. Revisions commit out of order (a writer that
   * took 10 may commit after one that took 11); reading only up to this revision is what keeps a
   * resume after a revision from missing any. Stops waiting, rejecting, when `signal` aborts.
   */
  settled(prefix: string, signal: AbortSignal): Promise<number>;
  /**
   * Up to `limit` changes of `prefix` after revision `after` and up to `through`, in revision order:
   * each key's latest set and every remove kept.
   */
  changesAfter(prefix: string, after: number, through: number, limit: number): Promise<WatchEvent[]>;
  /** The highest revision the change log has dropped: resuming from before it is `COMPACTED`. */
  compactedRevision(): Promise<number>;
}

/** A watch's wake-ups, and what it tells its source of how it reads. */
interface Subscription {
  /** The watch will wait for a wake-up: resolves once wake-ups of its prefix are live again. */
  waiting(): Promise<void>;
  /** The watch reads again without waiting for a wake-up: its last read found changes. */
  reading(): void;
  /** Stops the wake-ups. */
  stop(): void;
}

/** How long a watch whose last read found changes waits before it reads again, without a wake-up. */
const POLL_MS = 5;

/** Changes a replay reads from storage per query. */
const REPLAY_PAGE = 1000;

/**
 * How long a watch reads storage again after reads failed with `CONNECTION`, pausing 100 ms before
 * the first and twice as long before each next, up to 2 s: a pool opens another connection for the
 * next read, so a killed connection, a server that restarts or a failover to a standby ends no
 * watch. As long as a lost listening connection is tried again (drivers/reconnect.ts).
 */
const LOST_READ_BOUND_MS = 60_000;
const LOST_READ_PAUSE_MS = 100;
const LOST_READ_PAUSE_MAX_MS = 2000;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** What {@link Watch.until} gives when the watch ended before the awaited promise settled. */
const ENDED = Symbol("ended");

/**
 * The iterator {@link Store.watch} returns, over a change source. Checks its arguments when
 * iteration starts (the first `next()`), rejecting with `INVALID_ARGUMENT`.
 *
 * - It reads every change from storage, in pages of up to 1,000: it subscribes to wake-ups first,
 *   then reads after `fromRevision` (a resume) or, without one, starts at the revision below which
 *   every writer of the prefix has ended. Each wake-up reads what committed since, up to such a
 *   revision again, so changes are delivered in revision order and none is missed or repeated.
 * - Memory is bounded by one page: a watch that is not read holds nothing more; it reads what
 *   changed meanwhile when it is read again.
 * - A resume from a revision below the compacted one rejects with `COMPACTED` (`revision`: the
 *   compacted revision), as etcd's watch does: list the prefix again and watch from there. A live
 *   watch moves past revisions it has read, so only a resume can meet it.
 * - `signal` aborting, or `return()` (a `break` out of `for await`), ends it: a pending `next()`
 *   resolves done and the subscription is dropped.
 * - Its store closing ends it with `CLOSED`: `next()` rejects with it once the changes read before
 *   are delivered. A watch started on a closed store rejects the same way.
 * - A storage read that fails with `CONNECTION` is tried again, for up to a minute, unless the
 *   server refused the login (SQLSTATE class 28 or 3D); an error that
 *   stands (the server still unreachable, a privilege revoked) rejects `next()` and ends the watch.
 * - After it ended, by an error or otherwise, `next()` resolves done.
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
  /** Aborted when the watch ends, to stop a wait for writers. */
  readonly #stopped = new AbortController();
  /** The revision up to which every change has been read into {@link #read} (or skipped, at the start). */
  #position = 0;
  /** Changes read from storage and not yet delivered: at most a page. */
  #read: WatchEvent[] = [];
  /** Whether storage may hold changes after the position: a wake-up came, or the last page was full. */
  #stale = false;
  /** Wakes the `next()` waiting for a change. */
  #wake: (() => void) | undefined;
  #subscription: Subscription | undefined;
  /** Whether the watch waits for wake-ups (else it reads again after {@link POLL_MS}). */
  #waits = true;
  #poll: NodeJS.Timeout | undefined;
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
        const event = this.#read.shift();
        if (event !== undefined) return { done: false, value: event };
        if (this.#stale) {
          await this.#readStorageAgainIfLost();
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
    const subscribing = this.#source.subscribe(prefix, () => {
      this.#stale = true;
      this.#wakeUp();
    });
    const subscription = await this.#until(subscribing, (late) => late.stop());
    if (subscription === ENDED) return;
    this.#subscription = subscription;
    if (fromRevision !== undefined) {
      this.#position = fromRevision;
      this.#stale = true;
      return;
    }
    // Every change up to the settled revision committed before the watch began (or never will).
    const settled = await this.#until(this.#source.settled(prefix, this.#stopped.signal));
    if (settled !== ENDED) this.#position = settled;
  }

  /**
   * {@link #readStorage}, again after a pause when it failed with `CONNECTION`, for up to
   * {@link LOST_READ_BOUND_MS}. A failed read moved nothing: the position is where it was.
   */
  async #readStorageAgainIfLost(): Promise<void> {
    const failingSince = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#readStorage();
        return;
      } catch (error) {
        // A login the server refused for good (a role that may no longer log in) is no lost connection.
        const lost = error instanceof StoreError && error.code === "CONNECTION" && !isRefusedLogin(error.cause);
        if (!lost || Date.now() - failingSince > LOST_READ_BOUND_MS) throw error;
        this.#stale = true;
        const wait = Math.min(LOST_READ_PAUSE_MS * 2 ** (attempt - 1), LOST_READ_PAUSE_MAX_MS);
        if ((await this.#until(pause(wait))) === ENDED) return;
      }
    }
  }

  /**
   * Reads a page of changes after the position, up to the settled revision. The compacted revision
   * is read after the page: when it is still at or below the position, no remove after the
   * position had been dropped when the page was read.
   */
  async #readStorage(): Promise<void> {
    this.#stale = false;
    const prefix = this.#prefix as string;
    const after = this.#position;
    const through = await this.#until(this.#source.settled(prefix, this.#stopped.signal));
    if (through === ENDED) return;
    const page = await this.#until(this.#source.changesAfter(prefix, after, through, REPLAY_PAGE));
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
    this.#read = page;
    await this.#pace(page.length > 0);
    if (page.length >= REPLAY_PAGE) {
      // More may follow the page: the next read starts after its last change.
      this.#position = page[page.length - 1]?.revision ?? after;
      this.#stale = true;
    } else if (through > after) {
      this.#position = through;
    }
  }

  /**
   * A read that found changes is followed by another after {@link POLL_MS}, without waiting for a
   * wake-up: on a busy prefix, wake-ups would cost its writers more than these reads. A read that
   * found none goes back to waiting, once wake-ups are live again, with one more read for what
   * committed meanwhile.
   */
  async #pace(found: boolean): Promise<void> {
    const subscription = this.#subscription;
    if (subscription === undefined) return;
    if (found) {
      if (this.#waits) {
        this.#waits = false;
        subscription.reading();
      }
      this.#poll ??= setTimeout(() => {
        this.#poll = undefined;
        this.#stale = true;
        this.#wakeUp();
      }, POLL_MS);
    } else if (!this.#waits) {
      // Waiting only once marked: a mark that failed is made again by the read tried again.
      if ((await this.#until(subscription.waiting())) === ENDED) return;
      this.#waits = true;
      this.#stale = true;
    }
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
    this.#stopped.abort();
    this.#signal?.removeEventListener("abort", this.#abort);
    clearTimeout(this.#poll);
    this.#subscription?.stop();
    this.#subscription = undefined;
    this.#read = [];
    this.#wakeUp();
  }
}
