/**
 * The conformance suite every store of this package passes, for checking another `Store`
 * implementation the same way: `import { storeConformance } from "drizzle-workflow-store/testing"`
 * in a vitest test file. Needs `vitest` (an optional peer dependency of this package).
 *
 * @packageDocumentation
 */

export { applyEvents } from "./apply-events.js";
export { storeConformance } from "./conformance.js";
export type { ConformanceOptions, ConformanceStoreOptions, ConformanceTarget } from "./context.js";
export { collect, expectStoreError, freshPrefix, listAll } from "./helpers.js";
