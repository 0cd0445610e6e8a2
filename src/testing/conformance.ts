import { afterAll, beforeAll, describe } from "vitest";
import type { Store } from "../index.js";
import type { CaseContext, ConformanceOptions, ConformanceTarget } from "./context.js";
import { coreCases } from "./core-cases.js";
import { engineCases } from "./engine-cases.js";
import { leaseCases } from "./lease-cases.js";
import { randomSeed } from "./random.js";
import { revisionCases } from "./revision-cases.js";
import { statsCases } from "./stats-cases.js";
import { updateCases } from "./update-cases.js";
import { watchCases } from "./watch-cases.js";

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
