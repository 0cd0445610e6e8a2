import { StoreError } from "../core/errors.js";
import { resolveStoreOptions, type StoreOptions } from "../core/options.js";
import type { Store } from "../core/types.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { driverOf } from "../drivers/detect.js";
import { inspectCatalog, layoutOf } from "../migrations/catalog.js";
import { migrate } from "../migrations/migrate.js";
import { DEFAULT_SCHEMA, TABLE_NAME } from "../schema.js";
import { openReplicas, type PostgresStoreOptions, planReplicas, type ReplicaPlan } from "./replica-options.js";
import { DrizzleStore, type StoreSetup } from "./store.js";
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
  const storeOptions = resolveStoreOptions(options);
  const replicas = planReplicas(options, { primaryDb: db });
  return openStore(db, storeOptions, { label: "caller's database", connections, replicas });
}

/** What a factory opened for a store, and what it was given beyond the store's options. */
interface Opened {
  /** Closes what the factory opened itself; absent when the database is the caller's. */
  release?: () => Promise<void>;
  /** What `util.inspect` shows of the store (never a password). */
  label: string;
  /** How many statements the database runs at once, for batching. */
  connections?: number | undefined;
  /** The read replicas, checked. */
  replicas?: ReplicaPlan;
}

/**
 * Makes sure the table is there (migrating it when `autoMigrate` is on, checking for it otherwise),
 * opens the read replicas, and builds the store; on failure releases what the factory opened.
 */
export async function openStore(
  db: AnyPgDatabase,
  options: Readonly<Required<StoreOptions>>,
  { release, label, connections, replicas: plan = { entries: [], maxLagMs: 0 } }: Opened,
): Promise<DrizzleStore> {
  let setup: StoreSetup;
  try {
    if (options.autoMigrate) await migrate(db, { schema: options.schema });
    const { partitioned } = await checkTable(db, options.schema);
    const replicas = await openReplicas(db, plan, { ...options, partitioned });
    setup = { partitioned, replicas };
  } catch (error) {
    await release?.();
    throw error;
  }
  return new DrizzleStore(db, options, release, label, connections, setup);
}

/**
 * A missing table (with `autoMigrate: false`) is a clear error at creation, not at the first call.
 * Resolves with whether the table is partitioned.
 */
async function checkTable(db: AnyPgDatabase, schema: string): Promise<{ partitioned: boolean }> {
  let tableExists: boolean;
  let revisionTriggerExists: boolean;
  let partitioned: boolean;
  try {
    ({ tableExists, revisionTriggerExists, partitioned } = await inspectCatalog(db, layoutOf(schema)));
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
  return { partitioned };
}
