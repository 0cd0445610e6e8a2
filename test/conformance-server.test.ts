import { storeConformance } from "../src/testing/index.js";
import { backends } from "./support/backends.js";

// The conformance suite on PostgreSQL, through postgres.js (createPostgresStore) and node-postgres
// (createStoreWithDb).
// The other backends are in the other conformance-*.test.ts files, which run beside this one.
for (const backend of backends.onServer()) storeConformance(backend);
