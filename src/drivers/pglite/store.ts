import { resolveStoreOptions, type StoreOptions } from "../../core/options.js";
import type { Store } from "../../core/types.js";
import { openStore } from "../../postgres/open.js";
import { translateError } from "../../postgres/translate.js";
import type { Connection } from "../contract.js";
import { importDriver } from "../import.js";
import { pgliteByteaCodec } from "./bytea-codec.js";
import { analyzeNeverAnalyzed, drizzleReadyClient } from "./client.js";
import { inspectDataDir, majorMismatch } from "./data-dir.js";
import { type DataDirLock, lockDataDir } from "./data-dir-lock.js";

/** Where {@link connectEmbedded} keeps the database. */
export interface EmbeddedConnectionOptions {
  /**
   * Directory where PGlite keeps the database, so that it outlives the process; created if
   * missing. One process at a time may open it: a lock file in it (`workflow-store.lock`) names the
   * process that has it open, and opening it again, from another process or this one, rejects with
   * a `CONNECTION` `StoreError` until that one closes it or ends. Without it the database
   * lives in memory and is gone on `close()`.
   */
  dataDir?: string;
}

/** Options of {@link createEmbeddedStore}. */
export interface EmbeddedStoreOptions extends StoreOptions, EmbeddedConnectionOptions {}

/**
 * Opens PGlite (PostgreSQL compiled to WebAssembly, run in this process) as a Drizzle database. For
 * {@link migrate}, {@link migrationStatus} and queries of your own; {@link createEmbeddedStore}
 * builds a store the same way. Needs the `@electric-sql/pglite` package. With a `dataDir`, holds
 * the directory's lock until `close()`.
 *
 * @example
 * const connection = await connectEmbedded({ dataDir: "./.workflow-store" });
 */
export async function connectEmbedded(options: EmbeddedConnectionOptions = {}): Promise<Connection> {
  // Loaded here, not at import, so that apps on a server never load the WebAssembly build.
  const [{ PGlite }, { drizzle }] = await importDriver("@electric-sql/pglite", "connectEmbedded", () =>
    Promise.all([import("@electric-sql/pglite"), import("drizzle-orm/pglite")]),
  );
  const directory = fileSystemDirectory(options.dataDir);
  // Before PGlite touches the directory: two PGlite instances on one directory overwrite each
  // other's pages and lose acknowledged writes.
  const lock: DataDirLock | undefined = directory === undefined ? undefined : await lockDataDir(directory);
  let client: InstanceType<typeof PGlite> | undefined;
  let made: string | undefined;
  try {
    made = lock === undefined ? undefined : inspectDataDir(lock.directory);
    client = await PGlite.create({
      ...(options.dataDir !== undefined && { dataDir: options.dataDir }),
      ...pgliteByteaCodec,
    });
    await analyzeNeverAnalyzed(client);
  } catch (error) {
    await client?.close().catch(() => {});
    lock?.release();
    if (lock !== undefined && made !== undefined && client === undefined) {
      throw (
        majorMismatch(lock.directory, made, await postgresMajor(PGlite)) ?? translateError(error, { op: "connect" })
      );
    }
    throw translateError(error, { op: "connect" });
  }
  const opened = client;
  return {
    db: drizzle({ client: drizzleReadyClient(opened) }),
    close: async () => {
      try {
        await opened.close();
      } finally {
        lock?.release();
      }
    },
    label: options.dataDir === undefined ? "embedded in memory" : `embedded ${options.dataDir}`,
  };
}

/** The PostgreSQL major the installed PGlite runs, from a throwaway instance in memory. */
async function postgresMajor(PGlite: typeof import("@electric-sql/pglite").PGlite): Promise<string> {
  const probe = await PGlite.create();
  try {
    const { rows } = await probe.query<{ major: string }>(
      "select current_setting('server_version_num')::int / 10000 as major",
    );
    return String(rows[0]?.major);
  } finally {
    await probe.close();
  }
}

// PGlite's own prefixes for a database that is not a directory of this machine (its
// parseDataDir): in memory, or the browser's IndexedDB and OPFS.
const NOT_A_DIRECTORY = /^(memory|idb|opfs-ahp|memfs2opfs):\/\//;
const FILE_URL_PREFIX = "file://";

/** The directory PGlite keeps `dataDir` in, read as PGlite reads it; undefined when it keeps none. */
function fileSystemDirectory(dataDir: string | undefined): string | undefined {
  if (dataDir === undefined || dataDir === "" || NOT_A_DIRECTORY.test(dataDir)) return undefined;
  if (dataDir.startsWith(FILE_URL_PREFIX)) return dataDir.slice(FILE_URL_PREFIX.length) || undefined;
  return dataDir;
}

/**
 * A store on PGlite, opened by {@link connectEmbedded}: no server needed. `close()` shuts PGlite
 * down and releases the data directory's lock.
 *
 * @example
 * const store = await createEmbeddedStore({ dataDir: "./.workflow-data" });
 */
export async function createEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<Store> {
  const storeOptions = resolveStoreOptions(options);
  const connection = await connectEmbedded(options);
  // PGlite runs one statement at a time: calls that come while one runs are sent together.
  return openStore(connection.db, storeOptions, { release: connection.close, label: connection.label, connections: 1 });
}
