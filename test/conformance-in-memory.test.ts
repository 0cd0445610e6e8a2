import { storeConformance } from "../src/testing/index.js";
import { backends } from "./support/backends.js";

// The conformance suite on MemoryStore, and on PGlite through an app's Drizzle database.
// The other backends are in the other conformance-*.test.ts files, which run beside this one.
for (const backend of backends.inMemory()) storeConformance(backend);
