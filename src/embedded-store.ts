import { migrate } from "./migrate.js";
import { resolveStoreOptions, type StoreOptions } from "./options.js";
import { DrizzleStore } from "./store.js";
import { translateError } from "./translate.js";
import type { Store } from "./types.js";

/** Options of {@link createEmbeddedStore}. */
export interface EmbeddedStoreOptions extends StoreOptions {
  /**
   * Directory where PGlite keeps the database, so that it outlives the process. One process at a
   * time may open it. Without it the database lives in memory and is gone on `close()`.
   */
  dataDir?: string;
}

/**
 * A store on PGlite, PostgreSQL compiled to WebAssembly and run in this process: no server needed.
 * `close()` shuts PGlite down.
 *
 * @example
 * const store = await createEmbeddedStore({ dataDir: "./.workflow-data" });
 */
export async function createEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<Store> {
  const storeOptions = resolveStoreOptions(options);
  // Loaded here, not at import, so that apps on a server never load the WebAssembly build.
  const [{ PGlite }, { drizzle }] = await Promise.all([import("@electric-sql/pglite"), import("drizzle-orm/pglite")]);
  let client: InstanceType<typeof PGlite>;
  try {
    client = await PGlite.create(options.dataDir);
  } catch (error) {
    throw translateError(error, { op: "connect" });
  }
  const db = drizzle({ client });
  const release = () => client.close();
  try {
    if (storeOptions.autoMigrate) await migrate(db);
  } catch (error) {
    await release();
    throw error;
  }
  return new DrizzleStore(
    db,
    storeOptions,
    release,
    options.dataDir === undefined ? "embedded in memory" : `embedded ${options.dataDir}`,
  );
}
