import { storeConformance } from "../src/testing/index.js";
import { backends } from "./support/backends.js";

for (const backend of backends()) storeConformance(backend);
