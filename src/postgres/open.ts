import { StoreError } from "../core/errors.js";
import { resolveStoreOptions, type StoreOptions } from "../core/options.js";
import type { Store } from "../core/types.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { driverOf } from "../drivers/detect.js";
import { inspectCatalog, layoutOf } from "../migrations/catalog.js";
import { migrate } from "../migrations/migrate.js";
import { DEFAULT_SCHEMA, TABLE_NAME } from "../schema.js";
import { openReplicas, type PostgresStoreOptions } from "./replica-options.js";
import type { ReplicaSet } from "./replicas.js";
import { DrizzleStore } from "./store.js";
import { translateError } from "./translate.js";

/**
 * A store over an app's existing Drizzle PostgreSQL database or transaction, of any driver
 * (postgres.js, node-postgres, PGlite). Runs {@link migrate} first unless `autoMigrate` is `false`.
 * `close()` leaves the caller's connection open. Built on a transaction, its writes commit and roll
 * back with the app's own.
 *
 * @example
 * import { drizzle } from "drizzle-orm/node-postgres";
 * const db = drizzle(process.env.DATABASE_URL!);
 * const store = await createStoreWithDb(db);
 */
export async function createStoreWithDb(db: AnyPgDatabase, options?: PostgresStoreOptions): Promise<Store> {
  const client = (db as { $client?: unknown }).$client;
  const connections = driverOf(db)?.connections(client);
  const resolved = resolveStoreOptions(options);
  const replicas = await openReplicas(db, options, resolved);
  return openStore(db, resolved, undefined, "caller's database", connections, replicas);
}

/**
 * Makes sure the table is there (migrating it when `autoMigrate` is on, checking for it otherwise)
 * and builds the store; on failure releases what the factory opened.
 */
export async function openStore(
  db: AnyPgDatabase,
  options: Readonly<Required<StoreOptions>>,
  release: (() => Promise<void>) | undefined,
  label: string,
  connections?: number,
  replicas?: ReplicaSet,
): Promise<DrizzleStore> {
  try {
    if (options.autoMigrate) await migrate(db, { schema: options.schema });
    else await requireTable(db, options.schema);
  } catch (error) {
    await replicas?.close();
    await release?.();
    throw error;
  }
  return new DrizzleStore(db, options, release, label, connections, replicas);
}

/** With `autoMigrate: false`, a missing table is a clear error at creation, not at the first call. */
async function requireTable(db: AnyPgDatabase, schema: string): Promise<void> {
  let tableExists: boolean;
  let revisionTriggerExists: boolean;
  try {
    ({ tableExists, revisionTriggerExists } = await inspectCatalog(db, layoutOf(schema)));
  } catch (error) {
    throw translateError(error, { op: "connect" });
  }
  if (!tableExists) {
    const where = schema === DEFAULT_SCHEMA ? "on the search_path" : `in schema "${schema}"`;
    throw new StoreError(
      "SCHEMA",
      { op: "connect" },
      `the ${TABLE_NAME} table does not exist ${where}: run \`workflow-store migrate\` (or the app's own ` +
        "`drizzle-kit migrate` where the app's schema lists the table), or create the store with autoMigrate: true",
    );
  }
  if (!revisionTriggerExists) {
    // Without it, writes would keep their revision and a compare-and-set could overwrite a change.
    throw new StoreError(
      "SCHEMA",
      { op: "connect" },
      `the ${TABLE_NAME} table lacks the triggers of migrations 0004_revisions and 0005_watch_without_write_tax (revisions, watch): run ` +
        "`workflow-store migrate` (it adds them to a table an app's own migrations created), or create the store with autoMigrate: true",
    );
  }
}
