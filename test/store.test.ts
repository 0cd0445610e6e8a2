import { backends } from "./support/backends.js";
import { storeConformance } from "./support/conformance.js";

for (const backend of backends()) storeConformance(backend);
