import { and, count, lt, type SQL, sql } from "drizzle-orm";
import type { StatementContext } from "./context.js";

/** Deletes of rows older than an instant, a batch at a time, in every prefix or in one. */
export function purgeStatements(c: StatementContext) {
  const { db, table, named, limit } = c;
  const purge = (where: SQL | undefined, name: string, inPrefix?: SQL) => {
    // A batch of old rows, skipping any a writer holds, so that purge never waits on a row (a
    // row's age is checked again once locked).
    const batch = db
      .select({ prefix: table.prefix, key: table.key })
      .from(table)
      .where(where)
      .limit(limit)
      .for("update", { skipLocked: true });
    // The prefix again outside the batch: a table partitioned by prefix then deletes from one partition.
    return c.countDeleted(and(inPrefix, sql`(${table.prefix}, ${table.key}) in (${batch})`) as SQL, name);
  };
  const olderThan = lt(table.updatedAt, sql.placeholder("olderThan"));
  const older = (where: SQL | undefined, name: string) =>
    db.select({ count: count() }).from(table).where(where).prepare(name);
  return {
    purgeAll: () => purge(olderThan, named("purge")),
    purgePrefix: () => purge(and(olderThan, c.inPrefix), named("purge_prefix"), c.inPrefix),
    /** What a purge would delete now: a dry run's count. */
    olderAll: () => older(olderThan, named("older")),
    olderPrefix: () => older(and(olderThan, c.inPrefix), named("older_prefix")),
  };
}
