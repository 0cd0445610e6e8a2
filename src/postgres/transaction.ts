import { pause } from "../core/pause.js";

/** How long a transaction that lost its connection waits for the driver to give the transaction up. */
const LOST_CONNECTION_WAIT_MS = 1000;

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

export function startTransaction(): TransactionState {
  let resolve = () => {};
  const ended = new Promise<void>((done) => {
    resolve = done;
  });
  const state: TransactionState = {
    lost: false,
    over: false,
    ended,
    end: () => {
      state.over = true;
      resolve();
    },
  };
  return state;
}

/**
 * postgres.js settles a transaction as soon as its connection closes, while the work may still be
 * running. Handed control back after that, it sends ROLLBACK or COMMIT on the closed connection,
 * which throws where nothing can catch it and ends the process. So the work's callback then never
 * returns; nothing waits for it any more.
 */
export async function holdIfAbandoned(state: TransactionState): Promise<void> {
  // The failed call can get here before the driver has given the transaction up.
  if (state.lost && !state.over) await Promise.race([state.ended, pause(LOST_CONNECTION_WAIT_MS)]);
  if (state.over) await new Promise<never>(() => {});
}
