import { afterAll, beforeAll, describe } from "vitest";
import type { AnyPgDatabase, Store } from "../index.js";
import { coreCases } from "./core-cases.js";
import { engineCases } from "./engine-cases.js";
import { leaseCases } from "./lease-cases.js";
import { randomSeed } from "./random.js";
import { revisionCases } from "./revision-cases.js";
import { statsCases } from "./stats-cases.js";
import { updateCases } from "./update-cases.js";
import { watchCases } from "./watch-cases.js";

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

/**
 * Registers the conformance suite for one `Store` implementation: the semantics every store of
 * this package has (byte order, exact prefixes, binary values, input checks, `CLOSED` after close),
 * streaming, batches, transactions and purge, a comparison with `MemoryStore` on random sequences
 * of every operation, and where the target has a {@link ConformanceTarget.db}, the rows behind
 * the API. Errors are expected as this package's `StoreError`, with its codes.
 *
 * Call it at the top level of a vitest test file. One store per target is shared by the cases,
 * each of which works under a prefix of its own, so the target's database may hold other rows.
 *
 * @example
 * // test/my-store.test.ts
 * import { storeConformance } from "drizzle-workflow-store/testing";
 * import { MyStore } from "../src/my-store.js";
 *
 * storeConformance({
 *   name: "MyStore",
 *   skip: process.env.MY_STORE_URL ? undefined : "MY_STORE_URL is not set",
 *   create: async ({ pageSize } = {}) => MyStore.open(process.env.MY_STORE_URL!, { pageSize }),
 * });
 */
export function storeConformance(target: ConformanceTarget, options: ConformanceOptions = {}): void {
  const title = `${target.name}${target.skip ? ` (skipped: ${target.skip})` : ""}`;
  describe.skipIf(target.skip !== undefined)(title, () => {
    let store: Store | undefined;
    beforeAll(async () => {
      store = await target.create();
    });
    afterAll(async () => {
      // The suite closes the store it opened; the target releases what it opened itself.
      await store?.close();
      await target.dispose?.();
    });

    const context: CaseContext = {
      target,
      store: () => {
        if (store === undefined) throw new Error("the suite's store is not open");
        return store;
      },
      seed: options.seed ?? randomSeed(),
    };
    coreCases(context);
    engineCases(context);
    revisionCases(context);
    updateCases(context);
    watchCases(context);
    leaseCases(context);
    statsCases(context);
  });
}
