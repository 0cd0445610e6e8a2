/**
 * Called by {@link Store.list} once per key. Returning `false` (or a promise of it) stops the
 * listing; anything else goes on to the next key.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: an iterator that returns nothing goes on; void says so.
export type ListIterator = (key: string) => boolean | void | Promise<boolean | void>;

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
  /** Releases what the store opened itself; later calls reject with `CLOSED`. Calling it again does nothing. */
  close(): Promise<void>;
}
