import type { Store } from "../index.js";
import type { ConformanceTarget } from "./context.js";

/**
 * Stores for `count` workers that contend: where the target's stores share a database (it has a
 * `db`), separate stores, each with `max` connections; otherwise the suite's store, `count` times.
 * `close` closes the ones it opened.
 */
export async function workerStores(
  target: ConformanceTarget,
  store: Store,
  count: number,
  max: number,
): Promise<{ stores: Store[]; close(): Promise<void> }> {
  if (target.db === undefined) return { stores: Array.from({ length: count }, () => store), close: async () => {} };
  const stores = await Promise.all(Array.from({ length: count }, () => target.create({ max })));
  return {
    stores,
    close: async () => {
      await Promise.all(stores.map((each) => each.close()));
    },
  };
}
