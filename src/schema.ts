import { index, pgTable, primaryKey, timestamp, varchar } from "drizzle-orm/pg-core";
import { bytea } from "./bytea.js";

/**
 * The `workflow_store` table: one binary value per `(prefix, key)`.
 *
 * The same table, column for column, as the one the original Go store creates, so that a database
 * it already set up is adopted as it is. The primary key keeps PostgreSQL's default name
 * (`workflow_store_pkey`) for the same reason.
 *
 * Timestamps are `timestamp without time zone` holding UTC: the store writes them from the
 * database clock as `now() at time zone 'utc'`, whatever the session's `TimeZone`.
 *
 * @example
 * import { workflowStore } from "drizzle-workflow-store/schema";
 * const runs = await db.selectDistinct({ prefix: workflowStore.prefix }).from(workflowStore);
 */
export const workflowStore = pgTable(
  "workflow_store",
  {
    prefix: varchar("prefix", { length: 255 }).notNull(),
    key: varchar("key", { length: 255 }).notNull(),
    value: bytea("value"),
    createdAt: timestamp("created_at", { mode: "date" }).defaultNow(),
    updatedAt: timestamp("updated_at", { mode: "date" }).defaultNow(),
  },
  (table) => [
    primaryKey({ name: "workflow_store_pkey", columns: [table.prefix, table.key] }),
    index("idx_workflow_store_prefix").on(table.prefix),
  ],
);

/** A row of {@link workflowStore} as Drizzle selects it. */
export type WorkflowStoreRow = typeof workflowStore.$inferSelect;
