import { and, count, desc, type SQL, sql } from "drizzle-orm";
import type { StatementContext } from "./context.js";

/** Reads and writes of values by key, one at a time or many in one statement. */
export function valueStatements(c: StatementContext) {
  const { db, table, named, now, prefix, key, thisRow, inPrefix, hasValue, anyKey, readable } = c;
  const prefixes = sql.placeholder("prefixes");
  const keys = sql.placeholder("keys");
  const upsert = (rows: SQL) => db.insert(table).select(rows).onConflictDoUpdate(c.onConflictUpdate);
  return {
    get: () => db.select(readable).from(table).where(and(thisRow, hasValue)).prepare(named("get")),
    // VALUES, not the SELECT of setRows: PGlite plans it faster.
    set: () =>
      db
        .insert(table)
        .values({ prefix, key, value: sql.placeholder("value"), createdAt: now, updatedAt: now })
        .onConflictDoUpdate(c.onConflictUpdate)
        .prepare(named("set")),
    remove: () => db.delete(table).where(thisRow).prepare(named("remove")),
    has: () =>
      db.select({ found: sql<number>`1` }).from(table).where(and(thisRow, hasValue)).limit(1).prepare(named("has")),
    count: () => db.select({ count: count() }).from(table).where(inPrefix).prepare(named("count")),
    getMany: () =>
      db
        .select({ key: table.key, ...readable })
        .from(table)
        .where(and(inPrefix, anyKey, hasValue))
        .prepare(named("get_many")),
    /**
     * Rows of any prefixes at once, for sets sent together and for setMany, with parameters from
     * {@link setRowsParameters}. The values travel as one base64 text, cut into rows by offset:
     * postgres.js cannot send a bytea[], and PostgreSQL parses a text[] of large values about twice
     * as slowly. OFFSET 0 keeps the decoding to once per statement in a generic plan too. The
     * revision's 0 is a placeholder: the trigger of migration 0004 gives every row its own.
     */
    setRows: () =>
      upsert(
        sql`select p, k, substring(decoded.bytes from o for l), ${now}, ${now}, 0
            from (select decode(${sql.placeholder("values")}::text, 'base64') as bytes offset 0) as decoded,
              unnest(${prefixes}::varchar[], ${keys}::varchar[], ${sql.placeholder("starts")}::int[], ${sql.placeholder("lengths")}::int[]) as batch(p, k, o, l)`,
      ).prepare(named("set_rows")),
    /** Values of any prefixes at once, for gets sent together. */
    getRows: () =>
      db
        .select({ prefix: table.prefix, key: table.key, ...readable })
        .from(table)
        .where(
          and(
            sql`(${table.prefix}, ${c.keyInByteOrder}) in (select * from unnest(${prefixes}::varchar[], ${keys}::varchar[]))`,
            hasValue,
          ),
        )
        .prepare(named("get_rows")),
    /** The prefixes with the most bytes of values, with their rows and bytes, largest first. */
    prefixStats: () => {
      const bytes = sql<number>`coalesce(sum(octet_length(${table.value})), 0)`.mapWith(Number);
      return db
        .select({ prefix: table.prefix, rows: count(), bytes })
        .from(table)
        .groupBy(table.prefix)
        .orderBy(desc(bytes), desc(count()), sql`${table.prefix} collate "C"`)
        .limit(c.limit)
        .prepare(named("prefix_stats"));
    },
    removeMany: () => c.countDeleted(and(inPrefix, anyKey), named("remove_many")),
    removePrefix: () => c.countDeleted(inPrefix, named("remove_prefix")),
  };
}
