import { and, eq, sql } from "drizzle-orm";
import type { AnyPgDatabase } from "./migrate.js";
import { workflowStore } from "./schema.js";

/** The database clock in UTC, as `timestamp without time zone` holds it whatever the session's TimeZone. */
export const nowUtc = sql<Date>`(now() at time zone 'utc')`;

/** Keys compare byte by byte (UTF-8), whatever the database's collation. */
const keyInByteOrder = sql`${workflowStore.key} collate "C"`;

const prefix = sql.placeholder("prefix");
const key = sql.placeholder("key");
const thisRow = and(eq(workflowStore.prefix, prefix), eq(workflowStore.key, key));

/**
 * The store's statements, built and prepared once per database (or transaction) rather than on
 * every call. Names are prefixed so they cannot clash with an app's own prepared statements.
 */
export function prepareQueries(db: AnyPgDatabase) {
  const listPage = (after: boolean) =>
    db
      .select({ key: workflowStore.key })
      .from(workflowStore)
      .where(
        after
          ? and(eq(workflowStore.prefix, prefix), sql`${keyInByteOrder} > ${sql.placeholder("after")}`)
          : eq(workflowStore.prefix, prefix),
      )
      .orderBy(keyInByteOrder)
      .limit(sql.placeholder("limit"));

  return {
    get: db.select({ value: workflowStore.value }).from(workflowStore).where(thisRow).prepare("workflow_store_get"),
    set: db
      .insert(workflowStore)
      .values({ prefix, key, value: sql.placeholder("value"), createdAt: nowUtc, updatedAt: nowUtc })
      .onConflictDoUpdate({
        target: [workflowStore.prefix, workflowStore.key],
        set: { value: sql`excluded.value`, updatedAt: sql`excluded.updated_at` },
      })
      .prepare("workflow_store_set"),
    remove: db.delete(workflowStore).where(thisRow).prepare("workflow_store_remove"),
    listFirst: listPage(false).prepare("workflow_store_list_first"),
    listAfter: listPage(true).prepare("workflow_store_list_after"),
  };
}

/** The prepared statements of one database. */
export type PreparedQueries = ReturnType<typeof prepareQueries>;
