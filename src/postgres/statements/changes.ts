import { sql } from "drizzle-orm";
import type { WatchEvent } from "../../core/types.js";
import type { StatementContext } from "./context.js";

/** What watches read: the changes of a prefix, the revision horizon, their marks and the compaction point. */
export function changeStatements(c: StatementContext) {
  const { db, table, named, prefix, functionIn } = c;
  const { changes, compaction } = c.tables;
  return {
    /**
     * Each key's latest set and every remove of a prefix after a revision and up to another, in
     * revision order; a remove of several keys by one statement has a last key (migration 0005).
     * A remove of a key that is there now is left out: the row there was written after it, even
     * when its revision is lower (an insert takes its revision before it waits for a concurrent
     * delete of the same key to commit), so the key's latest change is that set.
     *
     * The prefix is compared in the collation of the revision index: C on the plain table, so that
     * only these reads use it; the column's own on a partitioned one, which prunes by it.
     */
    changesAfter: () => {
      const inPrefix = c.partitioned ? sql`${table.prefix} = ${prefix}` : sql`${table.prefix} collate "C" = ${prefix}`;
      const after = sql.placeholder("after");
      const through = sql.placeholder("through");
      return db
        .select({
          type: sql<WatchEvent["type"]>`"type"`,
          key: sql<string>`"key"`,
          lastKey: sql<string | null>`"last_key"`,
          revision: sql<number>`"revision"`.mapWith(Number),
        })
        .from(
          sql`(select 'set' as "type", ${table.key} as "key", null::varchar as "last_key", ${table.revision} as "revision"
                from ${table}
                where ${inPrefix} and ${table.revision} > ${after}
                  and ${table.revision} <= ${through}
              union all
              select case when ${changes.lastKey} is null then 'remove' else 'removeRange' end, ${changes.key},
                  ${changes.lastKey}, ${changes.revision}
                from ${changes}
                where ${changes.prefix} = ${prefix} and ${changes.revision} > ${after} and ${changes.revision} <= ${through}
                  and (${changes.lastKey} is not null or not exists (
                    select from ${table} as "present"
                    where "present"."prefix" = ${prefix} and "present"."key" collate "C" = ${changes.key}))
              ) as "changes"`,
        )
        .orderBy(sql`"revision"`)
        .limit(c.limit)
        .prepare(named("changes_after"));
    },
    /**
     * The last revision given out and the transactions writing the prefix (their virtual ids,
     * comma-separated), as workflow_store_horizon of migration 0005 reads them.
     */
    horizon: () =>
      db
        .select({
          revision: sql<number>`"revision"`.mapWith(Number),
          writers: sql<string>`array_to_string("writers", ',')`,
        })
        .from(sql`${functionIn("workflow_store_horizon")}(${prefix}) as "horizon"`)
        .prepare(named("horizon")),
    /**
     * Marks prefixes as watched by a store for some seconds more, so that their writes notify, or
     * with 0 seconds takes its marks back (migration 0005).
     */
    watchPrefixes: () =>
      db
        .select({ done: sql<number>`1` })
        .from(
          sql`${functionIn("workflow_store_watch")}(${sql.placeholder("prefixes")}::varchar[], ${sql.placeholder("watcher")}::varchar, ${sql.placeholder("seconds")}::int) as "watched"`,
        )
        .prepare(named("watch_prefixes")),
    compactedRevision: () =>
      db.select({ revision: compaction.revision }).from(compaction).prepare(named("compacted_revision")),
  };
}
