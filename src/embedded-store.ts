import { importDriver } from "./drivers.js";
import { resolveStoreOptions, type StoreOptions } from "./options.js";
import { openStore } from "./store.js";
import { translateError } from "./translate.js";
import type { Connection, Store } from "./types.js";

/** Where {@link connectEmbedded} keeps the database. */
export interface EmbeddedConnectionOptions {
  /**
   * Directory where PGlite keeps the database, so that it outlives the process. One process at a
   * time may open it. Without it the database lives in memory and is gone on `close()`.
   */
  dataDir?: string;
}

/** Options of {@link createEmbeddedStore}. */
export interface EmbeddedStoreOptions extends StoreOptions, EmbeddedConnectionOptions {}

/**
 * Opens PGlite (PostgreSQL compiled to WebAssembly, run in this process) as a Drizzle database. For
 * {@link migrate}, {@link migrationStatus} and queries of your own; {@link createEmbeddedStore}
 * builds a store the same way. Needs the `@electric-sql/pglite` package.
 *
 * @example
 * const connection = await connectEmbedded({ dataDir: "./.workflow-store" });
 */
export async function connectEmbedded(options: EmbeddedConnectionOptions = {}): Promise<Connection> {
  // Loaded here, not at import, so that apps on a server never load the WebAssembly build.
  const [{ PGlite }, { drizzle }] = await importDriver("@electric-sql/pglite", "connectEmbedded", () =>
    Promise.all([import("@electric-sql/pglite"), import("drizzle-orm/pglite")]),
  );
  let client: InstanceType<typeof PGlite>;
  try {
    client = await PGlite.create(options.dataDir);
  } catch (error) {
    throw translateError(error, { op: "connect" });
  }
  return {
    db: drizzle({ client }),
    close: () => client.close(),
    label: options.dataDir === undefined ? "embedded in memory" : `embedded ${options.dataDir}`,
  };
}

/**
 * A store on PGlite, opened by {@link connectEmbedded}: no server needed. `close()` shuts PGlite
 * down.
 *
 * @example
 * const store = await createEmbeddedStore({ dataDir: "./.workflow-data" });
 */
export async function createEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<Store> {
  const storeOptions = resolveStoreOptions(options);
  const connection = await connectEmbedded(options);
  return openStore(connection.db, storeOptions, connection.close, connection.label);
}
