import { pause } from "../core/pause.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import type { Calls, TransactionState } from "./calls.js";
import { translateError } from "./translate.js";

/** How long a transaction that lost its connection waits for the driver to give the transaction up. */
const LOST_CONNECTION_WAIT_MS = 1000;

function startTransaction(): TransactionState {
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
async function holdIfAbandoned(state: TransactionState): Promise<void> {
  // The failed call can get here before the driver has given the transaction up.
  if (state.lost && !state.over) await Promise.race([state.ended, pause(LOST_CONNECTION_WAIT_MS)]);
  if (state.over) await new Promise<never>(() => {});
}

/**
 * Runs `work` in a transaction of `db` (a savepoint when `outer` is the state of the transaction
 * `db` is), with the backend `open` builds on the transaction's database. The work's own error is
 * thrown as it was; only the database's is translated. The backend is closed when the work ends.
 */
export async function runTransaction<T, B>(
  db: AnyPgDatabase,
  outer: TransactionState | undefined,
  calls: Calls,
  work: (tx: B) => Promise<T>,
  open: (txDb: AnyPgDatabase, state: TransactionState) => { tx: B; calls: Calls },
): Promise<T> {
  let thrownByWork: { error: unknown } | undefined;
  // A savepoint shares the state of the transaction it is in.
  const state = outer ?? startTransaction();
  const running = db.transaction(async (txDb) => {
    const { tx, calls: txCalls } = open(txDb, state);
    try {
      return await work(tx);
    } catch (error) {
      thrownByWork = { error };
      throw error;
    } finally {
      // A transaction's backend outlives its transaction only as a closed one.
      txCalls.close();
      await holdIfAbandoned(state);
    }
  });
  if (outer === undefined) running.then(state.end, state.end);
  try {
    return await calls.track(running);
  } catch (error) {
    // When the connection is lost, the driver's error can come back after the work's own.
    throw thrownByWork !== undefined && error === thrownByWork.error
      ? error
      : translateError(error, { op: "transaction" });
  }
}
