import { sql } from "drizzle-orm";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { type AnyPgDatabase, createPostgresStore, migrate } from "../src/index.js";
import { storeConformance } from "../src/testing/index.js";

// The conformance suite on a Citus coordinator, with the tables distributed as the README's
// "A distributed PostgreSQL (Citus)" says: set CITUS_URL to a database of its own on one (the
// cases create and drop tables of their own in it). Citus cannot be installed where this
// package's CI runs, so without CITUS_URL the suite reports itself skipped.
const url = process.env.CITUS_URL;

/** The README's statements, run once on a database whose table is not distributed yet. */
const DISTRIBUTE = [
  "SET citus.enable_unsafe_triggers TO on",
  "SELECT create_distributed_table('workflow_store', 'prefix')",
  "SELECT create_distributed_table('workflow_store_changes', 'prefix', colocate_with => 'workflow_store')",
  "SELECT create_distributed_table('workflow_store_watches', 'prefix', colocate_with => 'workflow_store')",
  "SELECT create_distributed_table('workflow_store_leases', 'name')",
  "SELECT create_reference_table('workflow_store_compaction')",
  "SELECT create_distributed_function('workflow_store_horizon(varchar)', '$1', colocate_with => 'workflow_store')",
];

let client: postgres.Sql | undefined;
let db: AnyPgDatabase | undefined;
let distributed: Promise<void> | undefined;

/** Migrates and distributes the tables the first time, on one connection (the SET holds for it). */
function distribute(): Promise<void> {
  distributed ??= (async () => {
    client = postgres(url as string, { max: 1, onnotice: () => {} });
    db = drizzlePostgresJs({ client });
    await migrate(db);
    const [row] =
      await client`select count(*)::int as n from pg_dist_partition where logicalrelid = 'workflow_store'::regclass`;
    if (row?.n === 0) for (const statement of DISTRIBUTE) await db.execute(sql.raw(statement));
  })();
  return distributed;
}

storeConformance({
  name: "Citus, the tables distributed by prefix",
  skip: url ? undefined : "CITUS_URL is not set: Citus is not installed here",
  create: async ({ max, ...options } = {}) => {
    await distribute();
    return createPostgresStore(`${url}${url?.includes("?") ? "&" : "?"}pool_max=${max ?? 10}`, options);
  },
  db: () => {
    if (db === undefined) throw new Error("create a store first");
    return db;
  },
  dispose: async () => {
    await client?.end();
  },
});
