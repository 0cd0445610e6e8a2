import { and, count, lt, type SQL, sql } from "drizzle-orm";
import type { StatementContext } from "./context.js";

/** Deletes of rows older than an instant, a batch at a time, in every prefix or in one. */
export function purgeStatements(c: StatementContext) {
  const { db, table, named, limit } = c;
  const olderThan = lt(table.updatedAt, sql.placeholder("olderThan"));
  // A batch of old rows, skipping any a writer holds, so that purge never waits on a row (a row's
  // age is checked again once locked).
  const purge = (where: SQL | undefined, name: string) => {
    const rows = db
      .select({ prefix: table.prefix, key: table.key })
      .from(table)
      .where(where)
      .limit(limit)
      .for("update", { skipLocked: true });
    return c.countDeleted(sql`(${table.prefix}, ${table.key}) in (${rows})`, name);
  };
  // In one prefix: the prefix named outside the batch too, so that a table partitioned by prefix
  // deletes from one partition; the batch's keys as one array, computed once (a subquery beside
  // that condition could be run again for each row, each time finding other rows to delete).
  const purgeInPrefix = (name: string) => {
    const keys = db
      .select({ key: table.key })
      .from(table)
      .where(and(olderThan, c.inPrefix))
      .limit(limit)
      .for("update", { skipLocked: true });
    return c.countDeleted(and(c.inPrefix, sql`${table.key} = any(array(${keys}))`), name);
  };
  const older = (where: SQL | undefined, name: string) =>
    db.select({ count: count() }).from(table).where(where).prepare(name);
  return {
    purgeAll: () => purge(olderThan, named("purge")),
    purgePrefix: () => purgeInPrefix(named("purge_prefix")),
    /** What a purge would delete now: a dry run's count. */
    olderAll: () => older(olderThan, named("older")),
    olderPrefix: () => older(and(olderThan, c.inPrefix), named("older_prefix")),
  };
}
