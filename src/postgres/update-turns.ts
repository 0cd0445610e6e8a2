import type { ReadRow } from "../core/update.js";

/** The calls of `update` waiting for one key, and the row the one before them wrote. */
interface KeyTurn {
  tail: Promise<void>;
  waiting: number;
  known: ReadRow | undefined;
}

/** Keys whose last written row a store remembers for their next `update`, at most. */
const REMEMBERED_ROWS = 1000;
/** The largest value remembered: 1,000 rows hold at most about 4 MiB. */
const REMEMBERED_VALUE_BYTES = 4096;

/**
 * The calls of `update` on one key of one store, one at a time: callers of one process queue here
 * rather than on the row's lock in the database, and each hands the row it wrote (value and
 * revision) to the next, whose compare-and-set then needs no read. The last row written is also
 * remembered for the key's next call (the last 1,000 keys, values up to 4 KiB), so a worker that
 * updates its own key again and again sends one statement a call. The write still compares the
 * revision, so a write of another process in between is caught as a conflict, and the caller
 * then reads the row again.
 */
export class UpdateTurns {
  readonly #turns = new Map<string, KeyTurn>();
  /** In the order they were last written, oldest first. */
  readonly #remembered = new Map<string, ReadRow>();

  async take(prefix: string, key: string, work: (known: ReadRow | undefined) => Promise<ReadRow>): Promise<number> {
    const id = `${prefix}\0${key}`;
    let turn = this.#turns.get(id);
    if (turn === undefined) {
      turn = { tail: Promise.resolve(), waiting: 0, known: undefined };
      this.#turns.set(id, turn);
    }
    const mine = turn;
    mine.waiting++;
    const before = mine.tail;
    let done = () => {};
    mine.tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    await before;
    try {
      const known = mine.known ?? this.#remembered.get(id);
      mine.known = undefined;
      this.#remembered.delete(id);
      const written = await work(known);
      this.#remember(id, mine, written);
      return written.revision;
    } finally {
      if (--mine.waiting === 0) this.#turns.delete(id);
      done();
    }
  }

  /** Forgets what is remembered of a key the store wrote otherwise; of every key, without one. */
  forget(prefix?: string, key?: string): void {
    if (this.#remembered.size === 0) return;
    if (prefix === undefined || key === undefined) this.#remembered.clear();
    else this.#remembered.delete(`${prefix}\0${key}`);
  }

  /**
   * Hands the row written to the next call waiting, or remembers it. A removed or absent row is
   * neither: "absent" would let the next call write nothing without asking the database. A copy,
   * since the caller may change the bytes its fn returned once the call has resolved.
   */
  #remember(id: string, turn: KeyTurn, written: ReadRow): void {
    if (written.value === null || written.revision === 0) return;
    if (turn.waiting > 1) {
      turn.known = { value: Buffer.from(written.value), revision: written.revision };
      return;
    }
    if (written.value.length > REMEMBERED_VALUE_BYTES) return;
    this.#remembered.set(id, { value: Buffer.from(written.value), revision: written.revision });
    if (this.#remembered.size > REMEMBERED_ROWS) {
      for (const oldest of this.#remembered.keys()) {
        this.#remembered.delete(oldest);
        break;
      }
    }
  }
}

/** How long after a conflict `update` of the same key locks the row from the start. */
const CONTENDED_FOR_MS = 1000;
/** Keys remembered at most; past that, the memory starts again. */
const MAX_REMEMBERED = 1024;

/**
 * The keys whose `update` lost a compare-and-set in the last second. A lost compare-and-set costs
 * a read and a write that did nothing; on a key that is contended now, reading the row `for
 * update` from the start makes callers queue on the row lock instead.
 */
export class RecentConflicts {
  readonly #at = new Map<string, number>();

  note(prefix: string, key: string): void {
    if (this.#at.size >= MAX_REMEMBERED) this.#at.clear();
    this.#at.set(`${prefix}\0${key}`, performance.now());
  }

  has(prefix: string, key: string): boolean {
    const id = `${prefix}\0${key}`;
    const at = this.#at.get(id);
    if (at === undefined) return false;
    if (performance.now() - at < CONTENDED_FOR_MS) return true;
    this.#at.delete(id);
    return false;
  }
}
