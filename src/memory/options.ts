import type { StoreOptions } from "../core/options.js";

/** The memory store's options: the store options, and how long removes are kept for watches. */
export interface MemoryStoreOptions extends StoreOptions {
  /**
   * How long a remove stays in the change log, for watches resuming after an earlier revision.
   * @default one day, as on PostgreSQL
   */
  changeRetentionMs?: number;
}
