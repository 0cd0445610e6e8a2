import { type BuildExtraConfigColumns, sql } from "drizzle-orm";
import { index, pgSchema, pgTable, primaryKey, timestamp, varchar } from "drizzle-orm/pg-core";
import { bytea } from "./bytea.js";

/** The PostgreSQL schema the table lives in unless a store is told otherwise. */
export const DEFAULT_SCHEMA = "public";

/** The table's name, in whichever PostgreSQL schema it lives. */
export const TABLE_NAME = "workflow_store";

// A function, so that each table gets builders of its own.
const columns = () => ({
  prefix: varchar("prefix", { length: 255 }).notNull(),
  key: varchar("key", { length: 255 }).notNull(),
  value: bytea("value"),
  createdAt: timestamp("created_at", { mode: "date", withTimezone: true }).defaultNow(),
  updatedAt: timestamp("updated_at", { mode: "date", withTimezone: true }).defaultNow(),
});

const constraints = (table: BuildExtraConfigColumns<string, ReturnType<typeof columns>, "pg">) => [
  primaryKey({ name: "workflow_store_pkey", columns: [table.prefix, table.key] }),
  // Listing walks a prefix in byte order (`key collate "C"`), which the primary key, in the
  // database's collation, cannot give without sorting the whole prefix (migration 0002). It also
  // serves every lookup by prefix alone, so the original store's index on the prefix went
  // (migration 0003): a planner without statistics for a new prefix chose it for point reads and
  // writes, and scanned the whole prefix for one key.
  index("workflow_store_prefix_key_bytes").on(table.prefix, sql`(key collate "C")`),
];

/**
 * The `workflow_store` table: one binary value per `(prefix, key)`.
 *
 * The same table, column for column, as the one the original Go store creates, so that a database
 * it already set up is adopted as it is. The primary key keeps PostgreSQL's default name
 * (`workflow_store_pkey`) for the same reason.
 *
 * Timestamps are `timestamptz` (migration 0001; the original store's were `timestamp`), so they
 * hold the true instant whichever store wrote them and whatever the session's `TimeZone`.
 *
 * @example
 * import { workflowStore } from "drizzle-workflow-store/schema";
 * const runs = await db.selectDistinct({ prefix: workflowStore.prefix }).from(workflowStore);
 */
export const workflowStore = pgTable(TABLE_NAME, columns(), constraints);

/** The `workflow_store` table in some PostgreSQL schema; the same columns as {@link workflowStore}. */
export type WorkflowStoreTable = typeof workflowStore;

const tables = new Map<string, WorkflowStoreTable>([[DEFAULT_SCHEMA, workflowStore]]);

/**
 * The `workflow_store` table of a store created with the `schema` option, for queries of your own.
 * `public` (the default) gives {@link workflowStore} itself, which names the table without a schema
 * as the original store does.
 *
 * @example
 * const table = workflowStoreTable("tenant_a");
 * const rows = await db.select().from(table).where(eq(table.prefix, "/dag/"));
 */
export function workflowStoreTable(schema: string = DEFAULT_SCHEMA): WorkflowStoreTable {
  let table = tables.get(schema);
  if (table === undefined) {
    // Same columns and names; only the schema differs, which the type does not track.
    table = pgSchema(schema).table(TABLE_NAME, columns(), constraints) as unknown as WorkflowStoreTable;
    tables.set(schema, table);
  }
  return table;
}

/** A row of {@link workflowStore} as Drizzle selects it. */
export type WorkflowStoreRow = typeof workflowStore.$inferSelect;
