import { and, sql } from "drizzle-orm";
import type { StatementContext } from "./context.js";

/** The pages of `keys`, `keyStats` and `entries` walks: the first of a prefix, and those after a key. */
export function pageStatements(c: StatementContext) {
  const { db, table, named, inPrefix, hasValue, keyInByteOrder, limit } = c;
  const afterKey = sql`${keyInByteOrder} > ${sql.placeholder("after")}`;
  const keysPage = (after: boolean) =>
    db
      .select({ key: table.key })
      .from(table)
      .where(after ? and(inPrefix, afterKey) : inPrefix)
      .orderBy(keyInByteOrder)
      .limit(limit);
  // Rows written by the Go store may lack a timestamp.
  const times = {
    createdAt: sql`coalesce(${table.createdAt}, ${table.updatedAt}, 'epoch')`.mapWith(table.createdAt),
    updatedAt: sql`coalesce(${table.updatedAt}, ${table.createdAt}, 'epoch')`.mapWith(table.updatedAt),
  };
  const keyStatsPage = (after: boolean) =>
    db
      .select({
        key: table.key,
        size: sql<number>`coalesce(octet_length(${table.value}), 0)`.mapWith(Number),
        revision: table.revision,
        ...times,
      })
      .from(table)
      .where(after ? and(inPrefix, afterKey) : inPrefix)
      .orderBy(keyInByteOrder)
      .limit(limit);
  const entriesPage = (after: boolean) =>
    db
      .select({
        key: table.key,
        revision: table.revision,
        ...c.readable,
        ...times,
      })
      .from(table)
      .where(after ? and(inPrefix, afterKey, hasValue) : and(inPrefix, hasValue))
      .orderBy(keyInByteOrder)
      .limit(limit);
  return {
    keysFirst: () => keysPage(false).prepare(named("keys_first")),
    keysAfter: () => keysPage(true).prepare(named("keys_after")),
    keyStatsFirst: () => keyStatsPage(false).prepare(named("key_stats_first")),
    keyStatsAfter: () => keyStatsPage(true).prepare(named("key_stats_after")),
    entriesFirst: () => entriesPage(false).prepare(named("entries_first")),
    entriesAfter: () => entriesPage(true).prepare(named("entries_after")),
  };
}
