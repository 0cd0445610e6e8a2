import { createHash } from "node:crypto";
import { and, count, eq, isNotNull, type SQL, sql } from "drizzle-orm";
import type { AnyPgDatabase } from "../../drivers/contract.js";
import { DEFAULT_SCHEMA, workflowStoreTables } from "../../schema.js";

/**
 * Statement names are the package's own, so they cannot clash with an app's; a store on another
 * schema gets names of its own too (node-postgres refuses one name for two texts on a connection).
 * Without `prepare`, no name: Drizzle then sends the statement unnamed on every driver.
 */
function statementNames(schema: string, prepare: boolean): (name: string) => string {
  // biome-ignore lint/style/noNonNullAssertion: Drizzle types a name as required, and treats undefined as none.
  if (!prepare) return () => undefined!;
  if (schema === DEFAULT_SCHEMA) return (name) => `workflow_store_${name}`;
  const tag = createHash("sha256").update(schema).digest("hex").slice(0, 8);
  return (name) => `workflow_store_${name}_${tag}`;
}

/** How a store's statements are written: its schema, whether they are named, and the table's layout. */
export interface StatementSettings {
  schema: string;
  prepare: boolean;
  /**
   * The table is hash-partitioned by prefix (see partitionTable): the watch's reads compare the
   * prefix in the column's collation, which is what partitions are pruned by, and its index there is
   * in that collation too.
   */
  partitioned: boolean;
}

/** The parts the store's statements are built from, on the tables of one PostgreSQL schema. */
export function statementContext(db: AnyPgDatabase, { schema, prepare, partitioned }: StatementSettings) {
  const tables = workflowStoreTables(schema);
  const table = tables.store;
  const prefix = sql.placeholder("prefix");
  const key = sql.placeholder("key");
  // Keys compare byte by byte (UTF-8), whatever the database's collation.
  const keyInByteOrder = sql`${table.key} collate "C"`;
  const inPrefix = eq(table.prefix, prefix);
  const qualified = (name: string) => `${schema === DEFAULT_SCHEMA ? "" : `"${schema.replaceAll('"', '""')}".`}${name}`;
  return {
    db,
    partitioned,
    tables,
    table,
    /** The statement's name, or none without `prepare`. */
    named: statementNames(schema, prepare),
    /** The database clock; `timestamptz` holds the instant whatever the session's TimeZone. */
    now: sql<Date>`now()`,
    prefix,
    key,
    limit: sql.placeholder("limit"),
    keyInByteOrder,
    inPrefix,
    // Keys are compared in the C collation for equality too: the same result as the database's (a
    // deterministic collation's equality is byte equality), and it lets one index, the byte-order
    // one, take both the prefix and the key as index conditions. Compared in the database's
    // collation, the primary key and the byte-order index tied for a prefix the planner had no
    // statistics for, and it could pick the latter and filter the whole prefix for the key.
    thisRow: and(inPrefix, sql`${keyInByteOrder} = ${key}`),
    /** A NULL value (the Go store can write one) reads as missing, as it does there. */
    hasValue: isNotNull(table.value),
    // Arrays go as one parameter each, so a batch of any size is one statement within PostgreSQL's
    // 65,535 bind parameters.
    anyKey: sql`${keyInByteOrder} = any(${sql.placeholder("keys")}::varchar[])`,
    /**
     * A value over the store's maxValueBytes is not sent (it might not even fit in a string on the
     * way); its size is, so that the store can say why it cannot read it.
     */
    readable: {
      value:
        sql`case when octet_length(${table.value}) <= ${sql.placeholder("maxBytes")} then ${table.value} end`.mapWith(
          table.value,
        ),
      size: sql<number>`octet_length(${table.value})`.mapWith(Number),
    },
    onConflictUpdate: {
      target: [table.prefix, table.key],
      set: { value: sql`excluded.value`, updatedAt: sql`excluded.updated_at` },
    },
    /** A DELETE that reports how many rows it deleted. */
    countDeleted: (where: SQL | undefined, name: string) => {
      const deleted = db.$with("deleted").as(db.delete(table).where(where).returning({ key: table.key }));
      return db.with(deleted).select({ count: count() }).from(deleted).prepare(name);
    },
    /** A name of the schema: unqualified in the default one, found on the search_path as the table is. */
    qualified,
    /** A function of the schema, as {@link qualified}. */
    functionIn: (name: string) => sql.raw(qualified(`"${name}"`)),
  };
}

export type StatementContext = ReturnType<typeof statementContext>;
