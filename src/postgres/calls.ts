import type { ErrorSite } from "../core/errors.js";
import { StoreError } from "../core/errors.js";
import { checkOpen } from "../core/input.js";
import { pause } from "../core/pause.js";
import type { Batching } from "./batching.js";
import { isDeadlock, translateError } from "./translate.js";

/** What the backends of one transaction and of its savepoints share. */
export interface TransactionState {
  /** A call in the transaction failed with `CONNECTION`. */
  lost: boolean;
  /** The driver has settled the transaction. */
  over: boolean;
  /** Resolves when the driver has settled the transaction. */
  ended: Promise<void>;
  end(): void;
}

/** Times a statement outside a transaction is sent again after PostgreSQL failed it to break a deadlock. */
const DEADLOCK_RETRIES = 3;

/** What a call in a transaction gets when the transaction ended before the call's answer came. */
const TRANSACTION_OVER = Symbol("transaction over");

/**
 * Sends a statement outside a transaction, again when PostgreSQL failed it to break a deadlock:
 * nothing of it took effect, and the other side has gone on meanwhile (an app's transaction that
 * writes keys in another order, say). In a transaction the error stands: the transaction is over.
 */
async function retryDeadlocks<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (attempt > DEADLOCK_RETRIES || !isDeadlock(error)) throw error;
    }
  }
}

/**
 * How one backend sends its statements: outside a transaction with the deadlock retry and, while
 * every connection is busy, with others of their kind; in a transaction, raced against the
 * transaction's end. Every error comes out translated, and the calls in flight are tracked for
 * `close()`.
 */
export class Calls {
  readonly #batching: Batching | undefined;
  readonly #transaction: TransactionState | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closedByCall = false;

  constructor(batching: Batching | undefined, transaction: TransactionState | undefined) {
    this.#batching = batching;
    this.#transaction = transaction;
  }

  /** Closed by `close()`, or in a transaction that is over. */
  get closed(): boolean {
    return this.#closedByCall || this.#transaction?.over === true;
  }

  close(): void {
    this.#closedByCall = true;
  }

  /** Resolves when the calls in flight have settled, or after `graceMs`. */
  async settle(graceMs: number): Promise<void> {
    await Promise.race([Promise.allSettled(this.#inFlight), pause(graceMs)]);
  }

  track<T>(pending: Promise<T>): Promise<T> {
    this.#inFlight.add(pending);
    const settled = () => this.#inFlight.delete(pending);
    pending.then(settled, settled);
    return pending;
  }

  /**
   * Runs one call's statement and translates its error. `together` sends the call with others of
   * its kind instead, when every connection of the store's pool is busy.
   */
  async run<T>(site: ErrorSite, query: () => Promise<T>, together?: () => Promise<T>): Promise<T> {
    // A later page or batch of a call, after close() or after its transaction was given up.
    checkOpen(this.closed, site.op, site.prefix, site.key);
    try {
      const batching = this.#batching;
      const send = () =>
        this.track(
          batching === undefined ? query() : together !== undefined && batching.full ? together() : batching.run(query),
        );
      if (this.#transaction === undefined) return await retryDeadlocks(send);
      const pending = send();
      // A query sent as its connection drops may never be answered; the transaction's end settles it.
      const outcome = await Promise.race([pending, this.#transaction.ended.then(() => TRANSACTION_OVER)]);
      if (outcome === TRANSACTION_OVER) {
        throw new StoreError("CONNECTION", site, "the transaction's connection was lost before the call finished");
      }
      return outcome as T;
    } catch (error) {
      const failure = translateError(error, site);
      if (failure.code === "CONNECTION" && this.#transaction !== undefined) this.#transaction.lost = true;
      throw failure;
    }
  }
}
