import type { AnyPgDatabase, Store } from "../index.js";

/** What the suite asks {@link ConformanceTarget.create} for, besides a plain store. */
export interface ConformanceStoreOptions {
  /** Rows per query for `list`, `keys` and `entries`; the suite asks for small pages to cross page boundaries. */
  pageSize?: number;
  /**
   * Connections the store may hold. The suite asks for `1` to check that `list` and the iterators
   * leave the connection free while the caller's code runs; a store without a pool ignores it.
   */
  max?: number;
  /** The largest value writes accept, as the store option of that name; the suite asks for a small one. */
  maxValueBytes?: number;
}

/**
 * A `Store` implementation as the conformance suite runs it.
 *
 * @example
 * const target: ConformanceTarget = {
 *   name: "MyStore",
 *   create: async ({ pageSize } = {}) => new MyStore({ pageSize }),
 * };
 */
export interface ConformanceTarget {
  /** The title of the suite's `describe` block. */
  name: string;
  /** Why this target cannot run here (no server, no credentials); the suite is then reported as skipped with it. */
  skip?: string | undefined;
  /**
   * Opens a store. Called once for the store the cases share, and again by cases that need a
   * store of their own (small pages, one connection, one to close); those close what they open.
   */
  create(options?: ConformanceStoreOptions): Promise<Store>;
  /**
   * A second handle on the database the stores write to, for the cases that read and write the
   * `workflow_store` table (this package's schema) behind the API, and that share a transaction
   * with the app's own rows. Leave it out for a store with no such table; those cases are then
   * skipped. The cases create a table (`dws_test_app_rows`) and short-lived triggers in it:
   * give them a database of the tests' own.
   */
  db?: () => AnyPgDatabase;
  /** The PostgreSQL schema of that table, as the store's `schema` option names it. @default "public" */
  schema?: string;
  /** Releases what the target itself opened (clients, servers), after every case has run and the suite's store is closed. */
  dispose?: () => Promise<void>;
}

/** How the suite runs, apart from the target. */
export interface ConformanceOptions {
  /**
   * The seed of the cases that draw random inputs. A failing case names the seed it ran with;
   * pass it here to replay the same inputs. @default a new random seed each run
   */
  seed?: number;
}

/** What a group of cases gets: the target, the store the suite opened on it, and the seed. */
export interface CaseContext {
  target: ConformanceTarget;
  store: () => Store;
  seed: number;
}
