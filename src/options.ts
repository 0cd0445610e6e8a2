import { StoreError } from "./errors.js";

/** How a store behaves, whatever it runs on. */
export interface StoreOptions {
  /**
   * Apply the package's migrations (see `migrate`) when the store is created, as the original
   * store's automatic table initialization did. Turn it off where a deploy step runs
   * `drizzle-kit migrate`.
   * @default true
   */
  autoMigrate?: boolean;
  /**
   * How many keys `list` fetches per query. Memory stays bounded by this whatever the prefix holds.
   * @default 1000
   */
  pageSize?: number;
}

/** The defaults of {@link StoreOptions}. */
export const defaultStoreOptions: Readonly<Required<StoreOptions>> = Object.freeze({
  autoMigrate: true,
  pageSize: 1000,
});

/** The most rows one query of `list`, `keys`, `entries` or `purge` may fetch or delete. */
export const MAX_PAGE_SIZE = 100_000;

/** Rows per statement of `purge`. */
export const DEFAULT_PURGE_BATCH_SIZE = 1000;

/** Merges options over the defaults once, checks them and freezes the result. */
export function resolveStoreOptions(options: StoreOptions = {}): Readonly<Required<StoreOptions>> {
  const merged = {
    autoMigrate: options.autoMigrate ?? defaultStoreOptions.autoMigrate,
    pageSize: options.pageSize ?? defaultStoreOptions.pageSize,
  };
  if (typeof merged.autoMigrate !== "boolean") {
    throw new StoreError("CONFIG", { op: "config" }, "autoMigrate must be a boolean");
  }
  if (!Number.isInteger(merged.pageSize) || merged.pageSize < 1 || merged.pageSize > MAX_PAGE_SIZE) {
    throw new StoreError("CONFIG", { op: "config" }, `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return Object.freeze(merged);
}
