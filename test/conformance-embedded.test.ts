import { storeConformance } from "../src/testing/index.js";
import { backends } from "./support/backends.js";

// The conformance suite on the embedded store (createEmbeddedStore, PGlite in this process).
// The other backends are in the other conformance-*.test.ts files, which run beside this one.
for (const backend of backends.embedded()) storeConformance(backend);
