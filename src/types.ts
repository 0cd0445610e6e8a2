import type { AnyPgDatabase } from "./migrate.js";
/**
 * Called by {@link Store.list} once per key. Returning `false` (or a promise of it) stops the
 * listing; anything else goes on to the next key.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: an iterator that returns nothing goes on; void says so.
export type ListIterator = (key: string) => boolean | void | Promise<boolean | void>;

/** Where {@link Store.keys} and {@link Store.entries} start, how many they yield, and how many rows a query fetches. */
export interface KeysOptions {
  /** Start after this key (exclusive), in byte order. @default the first key */
  after?: string;
  /** Yield at most this many. @default all */
  limit?: number;
  /**
   * Rows of the first query, 1 to 100,000; later queries of the walk fetch twice as many as the one
   * before, up to 16 times this; an `entries` page stops growing at 4 MiB (its values, and about
   * 1 KiB a row).
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
  list(prefix: string, iterator: ListIterator): Promise<void>;
  /**
   * The keys of exactly this prefix in byte order, fetched a page at a time. No connection is held
   * between pages; breaking out of `for await` stops it.
   */
  keys(prefix: string, options?: KeysOptions): AsyncIterable<string>;
  /** Like {@link Store.keys}, with each key's value and timestamps: one query per page, no `get` per key. */
  entries(prefix: string, options?: KeysOptions): AsyncIterable<StoreEntry>;
  /** The values of the keys that exist, in one statement; missing keys are absent from the map. */
  getMany(prefix: string, keys: readonly string[]): Promise<Map<string, Buffer>>;
  /** Writes every entry or none, in one statement. A key given twice is `INVALID_ARGUMENT`. */
  setMany(prefix: string, entries: EntriesInput): Promise<void>;
  /** Deletes these keys in one statement; returns how many rows it deleted. */
  removeMany(prefix: string, keys: readonly string[]): Promise<number>;
  /** Deletes every key of this prefix in one statement; returns how many rows it deleted. */
  removePrefix(prefix: string): Promise<number>;
  /** How many keys this prefix has. */
  count(prefix: string): Promise<number>;
  /** Whether the row exists, without reading its value. */
  has(prefix: string, key: string): Promise<boolean>;
  /**
   * Runs `work` with a store whose writes commit together when it resolves, or not at all when it
   * throws (the error is thrown on). Nested calls are savepoints. Use `tx`, not the outer store,
   * inside: on one connection (PGlite, a pool of one) the outer store would wait for the
   * transaction, which waits for `work`.
   */
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T>;
  /**
   * Deletes rows whose `updated_at` is before `olderThan`, `batchSize` rows per statement so that
   * no lock is held long, skipping rows a writer holds. Returns how many rows it deleted.
   */
  purge(options: PurgeOptions): Promise<number>;
  /** Releases what the store opened itself; later calls reject with `CLOSED`. Calling it again does nothing. */
  close(): Promise<void>;
}

/**
 * A Drizzle database the package opened ({@link connectPostgres}, {@link connectEmbedded}), with
 * what closes it.
 */
export interface Connection {
  readonly db: AnyPgDatabase;
  /** What the connection reaches, for messages; never holds a password. */
  readonly label: string;
  close(): Promise<void>;
}
