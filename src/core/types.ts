/**
 * Called by {@link Store.list} once per key. Returning `false` (or a promise of it) stops the
 * listing; anything else goes on to the next key.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: an iterator that returns nothing goes on; void says so.
export type ListIterator = (key: string) => boolean | void | Promise<boolean | void>;

/**
 * Where a listing reads: `primary`, where every write the app was told of is seen; or `replica`,
 * one of the store's `readReplicas` that answers and is within `maxReplicaLagSeconds` of the
 * primary (else the primary), which may not yet show the latest writes.
 */
export type Consistency = "primary" | "replica";

/** How {@link Store.count} and {@link Store.list} read. */
export interface ReadOptions {
  /** @default "primary" */
  consistency?: Consistency;
}

/** Where {@link Store.keys} and {@link Store.entries} start, how many they yield, and how many rows a query fetches. */
export interface KeysOptions extends ReadOptions {
  /** Start after this key (exclusive), in byte order. @default the first key */
  after?: string;
  /** Yield at most this many. @default all */
  limit?: number;
  /**
   * Rows of the first query, 1 to 100,000; later queries of the walk fetch twice as many as the one
   * before, up to 16 times this; an `entries` page is doubled only while the double stays within
   * 2 MiB (its values, and about 1 KiB a row).
   * @default the store's `pageSize` (1,000)
   */
  pageSize?: number;
}

/** A row as {@link Store.entries} yields it. */
export interface StoreEntry {
  key: string;
  value: Buffer;
  /** When the key was first written (database clock). */
  createdAt: Date;
  /** When the value was last written (database clock). */
  updatedAt: Date;
  /** The revision of the value's last write. */
  revision: number;
}

/** A key as {@link Store.keyStats} yields it: its value's size and timestamps, without the value. */
export interface KeyStat {
  key: string;
  /** The value's length in bytes (0 for a row without a value, which the Go store can write). */
  size: number;
  /** When the key was first written (database clock). */
  createdAt: Date;
  /** When the value was last written (database clock). */
  updatedAt: Date;
  /** The revision of the value's last write. */
  revision: number;
}

/** A prefix as {@link Store.prefixStats} counts it. */
export interface PrefixStat {
  prefix: string;
  /** How many keys it has. */
  rows: number;
  /** The bytes of its values, together. */
  bytes: number;
}

/** What {@link Store.prefixStats} returns. */
export interface PrefixStatsOptions extends ReadOptions {
  /** Return at most this many prefixes, 1 to 100,000. @default 20 */
  limit?: number;
}

/** A value with the revision of its last write, as {@link Store.getWithRevision} reads it. */
export interface RevisionedValue {
  value: Buffer;
  revision: number;
}

/**
 * What {@link Store.update} calls with the current value (`null` when there is no row): it returns
 * the new value, or `null` to remove the row. It may be called more than once, so it should only
 * compute; and while it runs on a contended key, the row is locked.
 */
export type Updater = (current: Buffer | null) => Uint8Array | null | Promise<Uint8Array | null>;

/** The revision a compare-and-set expects the row to have. */
export interface CompareOptions {
  /** The row's current revision; for `setIf`, `0` means "only if there is no row". */
  revision: number;
}

/**
 * One change {@link Store.watch} delivers: a key set or removed, or a bulk removal.
 *
 * A statement that removed several keys of the prefix at once (`removeMany`, `removePrefix`,
 * `purge`, or any client's DELETE of several rows) is one `removeRange` event: some or all of the
 * keys from `key` to `lastKey` (inclusive, in byte order) that were there before it are gone.
 * Which ones, storage tells: a key of that range that is not in the prefix now was removed (or
 * removed later, which a later event says), one that is there was kept or set again. The change
 * log keeps one row per such statement and prefix, not one per key, so that a bulk removal costs
 * about what a DELETE costs.
 */
export type WatchEvent =
  | {
      type: "set";
      key: string;
      /** The change's revision: pass the last one seen as `fromRevision` to resume after it. */
      revision: number;
    }
  | {
      type: "remove";
      key: string;
      /** The change's revision: pass the last one seen as `fromRevision` to resume after it. */
      revision: number;
    }
  | {
      type: "removeRange";
      /** The first key the statement removed, in byte order. */
      key: string;
      /** The last key the statement removed, in byte order. */
      lastKey: string;
      /** The change's revision: pass the last one seen as `fromRevision` to resume after it. */
      revision: number;
    };

/** Where {@link Store.watch} starts and what ends it. */
export interface WatchOptions {
  /**
   * Deliver the changes after this revision (exclusive) first, then live ones: a watcher passes
   * the last revision it saw. @default only changes after the watch started
   */
  fromRevision?: number;
  /** Ends the iteration (it then returns, without an error) when aborted. */
  signal?: AbortSignal;
}

/** How long a lease lasts unless renewed. */
export interface LeaseOptions {
  /** Milliseconds from now (database clock), 1 to 86,400,000. */
  ttlMs: number;
}

/** A held lease, as {@link Store.acquireLease} returns it. */
export interface Lease {
  readonly name: string;
  /**
   * The fencing token: greater than the token of every earlier holder of this name. Pass it along
   * with work done under the lease, so that whoever receives the work can refuse an older holder's.
   */
  readonly token: number;
  /** When the lease expires unless renewed (database clock); `renew` moves it. */
  readonly expiresAt: Date;
  /** Extends the lease by its `ttlMs` from now; `CONFLICT` once it has expired or was released. */
  renew(): Promise<void>;
  /** Gives the lease up so that another can take it at once; does nothing once it has expired. */
  release(): Promise<void>;
}

/** The values {@link Store.setMany} takes: `[key, value]` pairs (an array, a `Map`, any iterable) or an object. */
export type EntriesInput = Iterable<readonly [string, Uint8Array]> | Record<string, Uint8Array>;

/** What {@link Store.purge} deletes. */
export interface PurgeOptions {
  /** Delete rows whose `updated_at` is before this instant. */
  olderThan: Date;
  /** Only in this prefix. @default every prefix */
  prefix?: string;
  /** Rows per statement, so that no statement holds locks long. @default 1000 */
  batchSize?: number;
  /** Called after each statement with the number of rows removed so far, e.g. for a progress bar. */
  onProgress?: (removed: number) => void;
  /** Count the rows it would delete now, in one statement, and delete none. @default false */
  dryRun?: boolean;
}

/**
 * The workflow engine's store: binary values under a `(prefix, key)` pair.
 *
 * Every backend (PostgreSQL through any Drizzle driver, the embedded PGlite store, the in-memory
 * store) has these semantics; one conformance suite checks them all.
 */
export interface Store {
  /** The value under `(prefix, key)`, or `null` when there is no such row. An empty value is an empty `Buffer`. */
  get(prefix: string, key: string): Promise<Buffer | null>;
  /** Writes the value, replacing any earlier one; `updated_at` comes from the database clock. */
  set(prefix: string, key: string, value: Uint8Array): Promise<void>;
  /** Deletes the row; a missing row is not an error. */
  remove(prefix: string, key: string): Promise<void>;
  /**
   * Calls `iterator` with each key of exactly this prefix, in byte order (UTF-8, C collation),
   * until it returns `false`. Keys are fetched a page at a time and no connection is held while
   * `iterator` runs, so it may call the store itself.
   */
  list(prefix: string, iterator: ListIterator, options?: ReadOptions): Promise<void>;
  /**
   * The keys of exactly this prefix in byte order, fetched a page at a time. No connection is held
   * between pages; breaking out of `for await` stops it.
   */
  keys(prefix: string, options?: KeysOptions): AsyncIterable<string>;
  /** Like {@link Store.keys}, with each key's value and timestamps: one query per page, no `get` per key. */
  entries(prefix: string, options?: KeysOptions): AsyncIterable<StoreEntry>;
  /**
   * Like {@link Store.keys}, with each value's size, timestamps and revision but not the value: what
   * a listing of a prefix shows, one query per page.
   */
  keyStats(prefix: string, options?: KeysOptions): AsyncIterable<KeyStat>;
  /** The prefixes with the most bytes of values, with their rows and bytes, largest first: one statement over the table. */
  prefixStats(options?: PrefixStatsOptions): Promise<PrefixStat[]>;
  /** The values of the keys that exist, in one statement; missing keys are absent from the map. */
  getMany(prefix: string, keys: readonly string[]): Promise<Map<string, Buffer>>;
  /** Writes every entry or none, in one statement. A key given twice is `INVALID_ARGUMENT`. */
  setMany(prefix: string, entries: EntriesInput): Promise<void>;
  /** Deletes these keys in one statement; returns how many rows it deleted. */
  removeMany(prefix: string, keys: readonly string[]): Promise<number>;
  /** Deletes every key of this prefix in one statement; returns how many rows it deleted. */
  removePrefix(prefix: string): Promise<number>;
  /** How many keys this prefix has. */
  count(prefix: string, options?: ReadOptions): Promise<number>;
  /** Whether the row exists, without reading its value. */
  has(prefix: string, key: string): Promise<boolean>;
  /** The value and the revision of its last write, or `null` when there is no such row. */
  getWithRevision(prefix: string, key: string): Promise<RevisionedValue | null>;
  /**
   * Writes the value only if the row's revision is `options.revision` (`0`: only if there is no
   * row), in one statement, and resolves with the new revision. Otherwise rejects with `CONFLICT`,
   * whose `revision` is the row's current one (`undefined` when there is no row).
   */
  setIf(prefix: string, key: string, value: Uint8Array, options: CompareOptions): Promise<number>;
  /** Deletes the row only if its revision is `options.revision`, in one statement; otherwise `CONFLICT`, as `setIf`. */
  removeIf(prefix: string, key: string, options: CompareOptions): Promise<void>;
  /**
   * Read-modify-write in one call: reads the value, calls `fn` with it, and writes what it returns
   * (`null` removes the row) only if nobody wrote the row meanwhile; otherwise it reads again and
   * calls `fn` again. Resolves with the new revision, `0` when the row was removed (or stays absent).
   * The first try is a read and a compare-and-set; after a conflict, and on a key that had one in
   * the last second, the row is read `for update` in a transaction, so callers queue on the row
   * lock rather than retry. `fn`'s own error rejects the call as it was thrown, and nothing is written.
   */
  update(prefix: string, key: string, fn: Updater): Promise<number>;
  /**
   * The changes of keys of exactly this prefix, in revision order, from when the watch starts (or
   * after `fromRevision`) until `signal` aborts or the loop breaks. Resuming delivers each key's
   * latest set and every remove after `fromRevision`, then live changes, missing and repeating none;
   * a `fromRevision` older than the change log's retention rejects with `COMPACTED`. The store
   * closing rejects it with `CLOSED`. Changes wait in memory until read.
   */
  watch(prefix: string, options?: WatchOptions): AsyncIterableIterator<WatchEvent>;
  /**
   * Takes the lease `name` for `ttlMs`, or resolves `null` while another holder has it. An expired
   * lease is taken over. A row, not a session lock: it works through poolers and outlives a
   * crashed holder only until it expires.
   */
  acquireLease(name: string, options: LeaseOptions): Promise<Lease | null>;
  /**
   * Runs `work` with a store whose writes commit together when it resolves, or not at all when it
   * throws (the error is thrown on). Nested calls are savepoints. Use `tx`, not the outer store,
   * inside: on one connection (PGlite, a pool of one) the outer store would wait for the
   * transaction, which waits for `work`.
   */
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T>;
  /**
   * Deletes rows whose `updated_at` is before `olderThan`, `batchSize` rows per statement so that
   * no lock is held long, skipping rows a writer holds. Returns how many rows it deleted; with
   * `dryRun`, how many it would delete now.
   */
  purge(options: PurgeOptions): Promise<number>;
  /** Releases what the store opened itself; later calls reject with `CLOSED`. Calling it again does nothing. */
  close(): Promise<void>;
}
