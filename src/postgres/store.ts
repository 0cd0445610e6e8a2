import { inspect } from "node:util";
import { conflict, type ErrorSite, StoreError } from "../core/errors.js";
import {
  checkEntries,
  checkExpectedRevision,
  checkIterator,
  checkKey,
  checkKeys,
  checkKeysOptions,
  checkOpen,
  checkPrefix,
  checkPurgeOptions,
  checkUpdater,
  checkValue,
  checkWork,
} from "../core/input.js";
import { acquireLease, type LeaseBackend } from "../core/leases.js";
import { resolveStoreOptions, type StoreOptions } from "../core/options.js";
import { eachKey, KeysetWalk, type Walk } from "../core/pages.js";
import { pause } from "../core/pause.js";
import type {
  CompareOptions,
  EntriesInput,
  KeysOptions,
  Lease,
  LeaseOptions,
  ListIterator,
  PurgeOptions,
  RevisionedValue,
  Store,
  StoreEntry,
  Updater,
  WatchEvent,
  WatchOptions,
} from "../core/types.js";
import { type ReadRow, RecentConflicts, type RowAccess, readModifyWrite, UpdateTurns } from "../core/update.js";
import { type ChangeSource, watchChanges } from "../core/watch.js";
import { connectionsOf } from "../drivers/pool-size.js";
import { inspectCatalog, layoutOf } from "../migrations/catalog.js";
import { type AnyPgDatabase, migrate } from "../migrations/migrate.js";
import { DEFAULT_SCHEMA, TABLE_NAME } from "../schema.js";
import { type BatchedCalls, batchedCalls } from "./batching.js";
import { type Notifications, notificationsOf } from "./notifications.js";
import { arrayParameter, type PreparedQueries, prepareQueries, queriesOn, setRowsParameters } from "./queries.js";
import { isDeadlock, translateError } from "./translate.js";
import { settle, WatchedPrefixes } from "./watched-prefixes.js";

/**
 * The statements select only rows with a value (a NULL one reads as missing), and send it only
 * when it is within `maxValueBytes`.
 */
function storedValue(row: { value: Buffer | null; size: number }, site: ErrorSite, maxBytes: number): Buffer {
  if (row.value !== null) return row.value;
  throw new StoreError(
    "QUERY",
    site,
    `the stored value is ${row.size} bytes, more than maxValueBytes (${maxBytes}); create the store with a larger maxValueBytes to read it`,
  );
}

/** Times a statement outside a transaction is sent again after PostgreSQL failed it to break a deadlock. */
const DEADLOCK_RETRIES = 3;

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

/** How long `close()` of a store that opened its own pool lets calls in flight finish before ending it. */
const CLOSE_GRACE_MS = 5000;
/** How long a transaction that lost its connection waits for the driver to give the transaction up. */
const LOST_CONNECTION_WAIT_MS = 1000;

/** What a call in a transaction gets when the transaction ended before the call's answer came. */
const TRANSACTION_OVER = Symbol("transaction over");

/** What the stores of one transaction and of its savepoints share. */
interface TransactionState {
  /** A call in the transaction failed with `CONNECTION`. */
  lost: boolean;
  /** The driver has settled the transaction. */
  over: boolean;
  /** Resolves when the driver has settled the transaction. */
  ended: Promise<void>;
  end(): void;
}

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
 * The {@link Store} over a Drizzle PostgreSQL database of any driver. Built by
 * {@link createStoreWithDb}, {@link createPostgresStore} and {@link createEmbeddedStore}.
 */
export class DrizzleStore implements Store {
  readonly #db: AnyPgDatabase;
  readonly #options: Readonly<Required<StoreOptions>>;
  /** Built on first use: a transaction's store gets the statements of the store it came from. */
  #prepared: PreparedQueries | undefined;
  readonly #release: (() => Promise<void>) | undefined;
  readonly #label: string;
  /** Gets and sets sent together while the pool is busy; absent in transactions and where the pool's size is unknown. */
  readonly #batched: BatchedCalls | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** The keys whose `update` lost a compare-and-set lately, which it then locks from the start. */
  readonly #conflicts = new RecentConflicts();
  /** This store's calls of `update`, one at a time per key. */
  readonly #updateTurns = new UpdateTurns();
  #closedByCall = false;
  #closing: Promise<void> | undefined;
  /** Set on the stores a transaction hands its work. */
  #transaction: TransactionState | undefined;
  /**
   * The one listening connection of the store (and of its transactions' stores), opened by the
   * first watch, and the prefixes they watch, marked in the database through the store itself.
   */
  #notifications: { current?: Notifications; watched: WatchedPrefixes };
  /** The driver's client under the database, which watches listen on. */
  #client: unknown;

  get #queries(): PreparedQueries {
    this.#prepared ??= prepareQueries(this.#db, this.#options.schema, this.#options.prepare);
    return this.#prepared;
  }

  /** Closed by `close()`, or a transaction's store whose transaction is over. */
  get #closed(): boolean {
    return this.#closedByCall || this.#transaction?.over === true;
  }

  set #closed(closed: boolean) {
    this.#closedByCall = closed;
  }

  /**
   * @param release closes what the store opened itself; absent when the database is the caller's.
   * @param label what `util.inspect` shows of the store (never a password).
   * @param connections the size of the pool the store opened itself, for the `batch` option.
   */
  constructor(
    db: AnyPgDatabase,
    options: Readonly<Required<StoreOptions>>,
    release?: () => Promise<void>,
    label = "",
    connections?: number,
  ) {
    this.#db = db;
    this.#options = options;
    this.#release = release;
    this.#label = label;
    this.#batched =
      options.batch && connections !== undefined
        ? batchedCalls(this.#queries, connections, options.maxValueBytes)
        : undefined;
    // Created here, so that a store's marks always go through the store itself, never through a
    // transaction's store (whose marks nobody would see before it commits, and which ends).
    this.#notifications = { watched: this.#watchedPrefixes() };
    this.#client = (db as { $client?: unknown }).$client;
  }

  async get(prefix: string, key: string): Promise<Buffer | null> {
    checkOpen(this.#closed, "get", prefix, key);
    checkKey("get", prefix, key);
    const maxBytes = this.#options.maxValueBytes;
    const together = this.#batched?.get;
    const [row] = await this.#run(
      { op: "get", prefix, key },
      () => this.#queries.get.execute({ prefix, key, maxBytes }),
      together && (async () => [await together({ prefix, key })].filter((found) => found !== undefined)),
    );
    return row === undefined ? null : storedValue(row, { op: "get", prefix, key }, maxBytes);
  }

  async set(prefix: string, key: string, value: Uint8Array): Promise<void> {
    checkOpen(this.#closed, "set", prefix, key);
    checkKey("set", prefix, key);
    this.#updateTurns.forget(prefix, key);
    const bytes = checkValue({ op: "set", prefix, key }, value, this.#options.maxValueBytes);
    const together = this.#batched?.set;
    await this.#run(
      { op: "set", prefix, key },
      () => this.#queries.set.execute({ prefix, key, value: bytes }),
      together && (() => together({ prefix, key, value: bytes })),
    );
  }

  async remove(prefix: string, key: string): Promise<void> {
    checkOpen(this.#closed, "remove", prefix, key);
    checkKey("remove", prefix, key);
    this.#updateTurns.forget(prefix, key);
    await this.#run({ op: "remove", prefix, key }, () => this.#queries.remove.execute({ prefix, key }));
  }

  async list(prefix: string, iterator: ListIterator): Promise<void> {
    checkOpen(this.#closed, "list", prefix);
    checkPrefix("list", prefix);
    checkIterator(prefix, iterator);
    await eachKey(this.keys(prefix), iterator);
  }

  keys(prefix: string, options?: KeysOptions): AsyncIterableIterator<string> {
    const q = this.#queries;
    return this.#walk("keys", prefix, options, {
      fetch: (after, limit) =>
        after === undefined ? q.keysFirst.execute({ prefix, limit }) : q.keysAfter.execute({ prefix, after, limit }),
      map: (row) => row.key,
    });
  }

  entries(prefix: string, options?: KeysOptions): AsyncIterableIterator<StoreEntry> {
    const q = this.#queries;
    const maxBytes = this.#options.maxValueBytes;
    return this.#walk("entries", prefix, options, {
      fetch: (after, limit) =>
        after === undefined
          ? q.entriesFirst.execute({ prefix, limit, maxBytes })
          : q.entriesAfter.execute({ prefix, after, limit, maxBytes }),
      map: (row) => ({
        key: row.key,
        value: storedValue(row, { op: "entries", prefix, key: row.key }, maxBytes),
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        revision: row.revision,
      }),
      bytes: (row) => row.size,
    });
  }

  async getMany(prefix: string, keys: readonly string[]): Promise<Map<string, Buffer>> {
    checkOpen(this.#closed, "getMany", prefix);
    const wanted = checkKeys("getMany", prefix, keys);
    if (wanted.length === 0) return new Map();
    const maxBytes = this.#options.maxValueBytes;
    const rows = await this.#run({ op: "getMany", prefix }, () =>
      this.#queries.getMany.execute({ prefix, keys: arrayParameter(wanted), maxBytes }),
    );
    return new Map(rows.map((row) => [row.key, storedValue(row, { op: "getMany", prefix, key: row.key }, maxBytes)]));
  }

  async setMany(prefix: string, entries: EntriesInput): Promise<void> {
    checkOpen(this.#closed, "setMany", prefix);
    const { keys, values } = checkEntries(prefix, entries, this.#options.maxValueBytes);
    this.#updateTurns.forget();
    if (keys.length === 0) return;
    const rows = setRowsParameters(
      keys.map(() => prefix),
      keys,
      values,
    );
    await this.#run({ op: "setMany", prefix }, () => this.#queries.setRows.execute(rows));
  }

  async removeMany(prefix: string, keys: readonly string[]): Promise<number> {
    checkOpen(this.#closed, "removeMany", prefix);
    const doomed = checkKeys("removeMany", prefix, keys);
    this.#updateTurns.forget();
    if (doomed.length === 0) return 0;
    const [row] = await this.#run({ op: "removeMany", prefix }, () =>
      this.#queries.removeMany.execute({ prefix, keys: arrayParameter(doomed) }),
    );
    return row?.count ?? 0;
  }

  async removePrefix(prefix: string): Promise<number> {
    checkOpen(this.#closed, "removePrefix", prefix);
    checkPrefix("removePrefix", prefix);
    this.#updateTurns.forget();
    const [row] = await this.#run({ op: "removePrefix", prefix }, () => this.#queries.removePrefix.execute({ prefix }));
    return row?.count ?? 0;
  }

  async count(prefix: string): Promise<number> {
    checkOpen(this.#closed, "count", prefix);
    checkPrefix("count", prefix);
    const [row] = await this.#run({ op: "count", prefix }, () => this.#queries.count.execute({ prefix }));
    return row?.count ?? 0;
  }

  async has(prefix: string, key: string): Promise<boolean> {
    checkOpen(this.#closed, "has", prefix, key);
    checkKey("has", prefix, key);
    const rows = await this.#run({ op: "has", prefix, key }, () => this.#queries.has.execute({ prefix, key }));
    return rows.length > 0;
  }

  async getWithRevision(prefix: string, key: string): Promise<RevisionedValue | null> {
    checkOpen(this.#closed, "getWithRevision", prefix, key);
    checkKey("getWithRevision", prefix, key);
    const maxBytes = this.#options.maxValueBytes;
    const site: ErrorSite = { op: "getWithRevision", prefix, key };
    const [row] = await this.#run(site, () => this.#queries.getWithRevision.execute({ prefix, key, maxBytes }));
    return row === undefined ? null : { value: storedValue(row, site, maxBytes), revision: row.revision };
  }

  async setIf(prefix: string, key: string, value: Uint8Array, options: CompareOptions): Promise<number> {
    checkOpen(this.#closed, "setIf", prefix, key);
    checkKey("setIf", prefix, key);
    this.#updateTurns.forget(prefix, key);
    const site: ErrorSite = { op: "setIf", prefix, key };
    const bytes = checkValue(site, value, this.#options.maxValueBytes);
    const revision = checkExpectedRevision(site, options);
    const [row] = await this.#run(site, () =>
      revision === 0
        ? this.#queries.insertIfAbsent.execute({ prefix, key, value: bytes })
        : this.#queries.updateIf.execute({ prefix, key, value: bytes, revision }),
    );
    if (row?.revision == null) throw conflict(site, revision, row?.current);
    return row.revision;
  }

  async removeIf(prefix: string, key: string, options: CompareOptions): Promise<void> {
    checkOpen(this.#closed, "removeIf", prefix, key);
    checkKey("removeIf", prefix, key);
    this.#updateTurns.forget(prefix, key);
    const site: ErrorSite = { op: "removeIf", prefix, key };
    const revision = checkExpectedRevision(site, options);
    const [row] = await this.#run(site, () => this.#queries.removeIf.execute({ prefix, key, revision }));
    if (row?.revision == null) throw conflict(site, revision, row?.current);
  }

  async update(prefix: string, key: string, fn: Updater): Promise<number> {
    checkOpen(this.#closed, "update", prefix, key);
    checkKey("update", prefix, key);
    checkUpdater(prefix, key, fn);
    const site: ErrorSite = { op: "update", prefix, key };
    // In a transaction, the row lock is held to its end anyway.
    if (this.#transaction !== undefined) return (await this.#updateLocked(site, fn)).revision;
    return this.#updateTurns.take(prefix, key, async (known) => {
      const maxBytes = this.#options.maxValueBytes;
      if (!this.#conflicts.has(prefix, key)) {
        // From the row this store last wrote; when the row has moved on since, read it.
        if (known !== undefined) {
          const written = await readModifyWrite(
            site,
            { ...this.#row(site, false), read: async () => known },
            fn,
            maxBytes,
          );
          if (written !== undefined) return written;
        }
        const written = await readModifyWrite(site, this.#row(site, false), fn, maxBytes);
        if (written !== undefined) return written;
        this.#conflicts.note(prefix, key);
      }
      return this.transaction((tx) => (tx as DrizzleStore).#updateLocked(site, fn));
    });
  }

  watch(prefix: string, options?: WatchOptions): AsyncIterableIterator<WatchEvent> {
    return watchChanges(this.#changeSource(), prefix, options);
  }

  acquireLease(name: string, options: LeaseOptions): Promise<Lease | null> {
    return acquireLease(this.#leaseBackend(), name, options);
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    checkOpen(this.#closed, "transaction");
    checkWork(work);
    // The caller's own error comes back as it was thrown; only the database's is translated.
    let thrownByWork: { error: unknown } | undefined;
    // A savepoint shares the state of the transaction it is in.
    const state = this.#transaction ?? startTransaction();
    const running = this.#db.transaction(async (txDb) => {
      const tx = new DrizzleStore(txDb, this.#options, undefined, `${this.#label} transaction`);
      tx.#prepared = queriesOn(this.#queries, txDb, this.#options.schema, this.#options.prepare);
      tx.#transaction = state;
      tx.#notifications = this.#notifications;
      tx.#client = this.#client;
      try {
        return await work(tx);
      } catch (error) {
        thrownByWork = { error };
        throw error;
      } finally {
        // A transaction store outlives its transaction only as a closed store.
        tx.#closed = true;
        await holdIfAbandoned(state);
      }
    });
    if (this.#transaction === undefined) running.then(state.end, state.end);
    try {
      return await this.#track(running);
    } catch (error) {
      // When the connection is lost, the driver's error can come back after the work's own.
      throw thrownByWork !== undefined && error === thrownByWork.error
        ? error
        : translateError(error, { op: "transaction" });
    }
  }

  async purge(options: PurgeOptions): Promise<number> {
    checkOpen(this.#closed, "purge", options?.prefix);
    const { olderThan, prefix, batchSize, onProgress } = checkPurgeOptions(options);
    this.#updateTurns.forget();
    // An ISO string, not a Date: node-postgres would send a Date in the process's local time.
    const params = { olderThan: olderThan.toISOString(), limit: batchSize, prefix };
    let removed = 0;
    for (;;) {
      const [row] = await this.#run({ op: "purge", prefix }, () =>
        prefix === undefined ? this.#queries.purgeAll.execute(params) : this.#queries.purgePrefix.execute(params),
      );
      const batch = row?.count ?? 0;
      removed += batch;
      onProgress?.(removed);
      if (batch < batchSize) return removed;
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  [inspect.custom](): string {
    return `DrizzleStore { ${this.#label}${this.#closed ? " closed" : ""} }`;
  }

  /** Checks a listing's arguments when iteration starts, then walks the prefix a page at a time. */
  #walk<T extends { key: string }, U>(
    op: "keys" | "entries",
    prefix: string,
    options: KeysOptions | undefined,
    walk: Omit<Walk<T, U>, "start">,
  ): KeysetWalk<T, U> {
    return new KeysetWalk({
      ...walk,
      start: () => {
        checkOpen(this.#closed, op, prefix);
        return checkKeysOptions(op, prefix, options, this.#options.pageSize);
      },
      fetch: (after, limit) => this.#run({ op, prefix }, () => walk.fetch(after, limit)),
    });
  }

  /**
   * Watches read changes with the store's statements, woken by its listening connection; the
   * prefixes they watch are marked through the store that opened the connection (not inside a
   * transaction, whose mark nobody would see before it commits).
   */
  #changeSource(): ChangeSource {
    const q = this.#queries;
    const shared = this.#notifications;
    return {
      subscribe: async (prefix, onWake) => {
        const site = { op: "watch", prefix } as const;
        checkOpen(this.#closed, "watch", prefix);
        shared.current ??= notificationsOf(this.#client, site);
        const notifications = shared.current;
        const state = await shared.watched.add(prefix);
        try {
          const stopWaking = await notifications.subscribe(site, onWake);
          return {
            waiting: () => state.waiting(),
            reading: () => state.reading(),
            stop: () => {
              stopWaking();
              state.end();
            },
          };
        } catch (error) {
          state.end();
          throw error;
        }
      },
      settled: (prefix, signal) =>
        settle(async () => {
          const [row] = await this.#run({ op: "watch", prefix }, () => q.horizon.execute({ prefix }));
          return { revision: row?.revision ?? 0, writers: row?.writers ? row.writers.split(",") : [] };
        }, signal),
      changesAfter: async (prefix, after, through, limit) => {
        const rows = await this.#run({ op: "watch", prefix }, () =>
          q.changesAfter.execute({ prefix, after, through, limit }),
        );
        return rows.map(
          ({ type, key, lastKey, revision }): WatchEvent =>
            type === "removeRange" ? { type, key, lastKey: lastKey ?? key, revision } : { type, key, revision },
        );
      },
      compactedRevision: async () => {
        const [row] = await this.#run({ op: "watch" }, () => q.compactedRevision.execute());
        return row?.revision ?? 0;
      },
    };
  }

  /**
   * `update` with the row locked from the read to the write. Only a row that did not exist can
   * still move (another transaction inserted it); then it is read again, locked this time.
   */
  async #updateLocked(site: ErrorSite, fn: Updater): Promise<ReadRow> {
    for (;;) {
      const written = await readModifyWrite(site, this.#row(site, true), fn, this.#options.maxValueBytes);
      if (written !== undefined) return written;
    }
  }

  /** The row of an `update` call, read (`for update` when `locked`) and written with the store's compare-and-set statements. */
  #row(site: ErrorSite, locked: boolean): RowAccess {
    const q = this.#queries;
    const prefix = site.prefix as string;
    const key = site.key as string;
    const maxBytes = this.#options.maxValueBytes;
    return {
      read: async () => {
        const read = locked ? q.updateReadLocked : q.updateRead;
        const [row] = await this.#run(site, () => read.execute({ prefix, key, maxBytes }));
        if (row === undefined) return { value: null, revision: 0 };
        // A row without a value reads as missing, as `get` reads it.
        const value = row.value === null && row.size === null ? null : storedValue(row, site, maxBytes);
        return { value, revision: row.revision };
      },
      write: async (value, revision) => {
        const [row] = await this.#run(site, () =>
          value === null
            ? q.removeIf.execute({ prefix, key, revision })
            : revision === 0
              ? q.insertIfAbsent.execute({ prefix, key, value })
              : locked
                ? q.updateLockedRow.execute({ prefix, key, value })
                : q.updateAtRevision.execute({ prefix, key, value, revision }),
        );
        if (row?.revision == null) return undefined;
        return value === null ? 0 : row.revision;
      },
    };
  }

  /** The marks of this store's watched prefixes; a renewal wakes every watch of the store. */
  #watchedPrefixes(): WatchedPrefixes {
    return new WatchedPrefixes(
      async (prefixes, watcher, seconds) => {
        await this.#run({ op: "watch", prefix: prefixes.length === 1 ? prefixes[0] : undefined }, () =>
          this.#queries.watchPrefixes.execute({ prefixes: arrayParameter(prefixes), watcher, seconds }),
        );
      },
      () => this.#notifications.current?.wake(),
    );
  }

  #leaseBackend(): LeaseBackend {
    const q = this.#queries;
    return {
      acquire: async (name, ttlMs) => {
        const site: ErrorSite = { op: "acquireLease", key: name };
        checkOpen(this.#closed, site.op, undefined, name);
        const [row] = await this.#run(site, () => q.acquireLease.execute({ name, ttlMs }));
        return row ?? null;
      },
      renew: async (name, token, ttlMs) => {
        const site: ErrorSite = { op: "renewLease", key: name };
        const [row] = await this.#run(site, () => q.renewLease.execute({ name, token, ttlMs }));
        return row?.expiresAt ?? null;
      },
      release: async (name, token) => {
        await this.#run({ op: "releaseLease", key: name }, () => q.releaseLease.execute({ name, token }));
      },
    };
  }

  async #shutDown(): Promise<void> {
    this.#closed = true;
    // A transaction's store shares the listening connection of the store it came from.
    if (this.#transaction === undefined) {
      this.#notifications.watched?.close();
      await this.#notifications.current?.close();
    }
    const release = this.#release;
    if (release === undefined) return;
    // Calls in flight finish, or fail, before the pool under them ends; what still hangs, the end fails.
    await Promise.race([Promise.allSettled(this.#inFlight), pause(CLOSE_GRACE_MS)]);
    try {
      await release();
    } catch (error) {
      throw translateError(error, { op: "close" });
    }
  }

  #track<T>(pending: Promise<T>): Promise<T> {
    this.#inFlight.add(pending);
    const settled = () => this.#inFlight.delete(pending);
    pending.then(settled, settled);
    return pending;
  }

  /**
   * Runs one call's statement and translates its error. `together` sends the call with others of
   * its kind instead, when every connection of the store's pool is busy.
   */
  async #run<T>(site: ErrorSite, query: () => Promise<T>, together?: () => Promise<T>): Promise<T> {
    // A later page or batch of a call, after close() or after its transaction was given up.
    checkOpen(this.#closed, site.op, site.prefix, site.key);
    try {
      const batching = this.#batched?.batching;
      const send = () =>
        this.#track(
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

/**
 * A store over an app's existing Drizzle PostgreSQL database or transaction, of any driver
 * (postgres.js, node-postgres, PGlite). Runs {@link migrate} first unless `autoMigrate` is `false`.
 * `close()` leaves the caller's connection open. Built on a transaction, its writes commit and roll
 * back with the app's own.
 *
 * @example
 * import { drizzle } from "drizzle-orm/node-postgres";
 * const db = drizzle(process.env.DATABASE_URL!);
 * const store = await createStoreWithDb(db);
 */
export async function createStoreWithDb(db: AnyPgDatabase, options?: StoreOptions): Promise<Store> {
  const client = (db as { $client?: unknown }).$client;
  return openStore(db, resolveStoreOptions(options), undefined, "caller's database", connectionsOf(client));
}

/**
 * Makes sure the table is there (migrating it when `autoMigrate` is on, checking for it otherwise)
 * and builds the store; on failure releases what the factory opened.
 */
export async function openStore(
  db: AnyPgDatabase,
  options: Readonly<Required<StoreOptions>>,
  release: (() => Promise<void>) | undefined,
  label: string,
  connections?: number,
): Promise<DrizzleStore> {
  try {
    if (options.autoMigrate) await migrate(db, { schema: options.schema });
    else await requireTable(db, options.schema);
  } catch (error) {
    await release?.();
    throw error;
  }
  return new DrizzleStore(db, options, release, label, connections);
}

/** With `autoMigrate: false`, a missing table is a clear error at creation, not at the first call. */
async function requireTable(db: AnyPgDatabase, schema: string): Promise<void> {
  let tableExists: boolean;
  let revisionTriggerExists: boolean;
  try {
    ({ tableExists, revisionTriggerExists } = await inspectCatalog(db, layoutOf(schema)));
  } catch (error) {
    throw translateError(error, { op: "connect" });
  }
  if (!tableExists) {
    const where = schema === DEFAULT_SCHEMA ? "on the search_path" : `in schema "${schema}"`;
    throw new StoreError(
      "SCHEMA",
      { op: "connect" },
      `the ${TABLE_NAME} table does not exist ${where}: run \`workflow-store migrate\` (or the app's own ` +
        "`drizzle-kit migrate` where the app's schema lists the table), or create the store with autoMigrate: true",
    );
  }
  if (!revisionTriggerExists) {
    // Without it, writes would keep their revision and a compare-and-set could overwrite a change.
    throw new StoreError(
      "SCHEMA",
      { op: "connect" },
      `the ${TABLE_NAME} table lacks the triggers of migrations 0004_revisions and 0005_watch_without_write_tax (revisions, watch): run ` +
        "`workflow-store migrate` (it adds them to a table an app's own migrations created), or create the store with autoMigrate: true",
    );
  }
}
