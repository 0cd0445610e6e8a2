import { and, eq, sql } from "drizzle-orm";
import type { StatementContext } from "./context.js";

/** Reads with the row's revision, and the compare-and-set writes of `setIf`, `removeIf` and `update`. */
export function revisionStatements(c: StatementContext) {
  const { db, table, named, now, prefix, key, thisRow, hasValue, readable } = c;
  const expected = eq(table.revision, sql.placeholder("revision"));
  // A compare-and-set reports the row's revision when it fails. Locked, the row is read as last
  // committed, not as the statement's snapshot saw it, which a writer that committed meanwhile
  // (and made the compare fail) left behind.
  const current = db
    .$with("current")
    .as(db.select({ revision: table.revision }).from(table).where(thisRow).for("update"));
  /** One row: the revision the write took (null when it did not happen) and the row's current one. */
  const compared = (written: { _: { alias: string } }) =>
    sql`(select (select "revision" from ${sql.identifier(written._.alias)}) as "revision",
      (select "revision" from "current") as "current") as "compared"`;
  const revisionPair = {
    revision: sql<number | null>`"revision"`.mapWith(Number),
    current: sql<number | null>`"current"`.mapWith(Number),
  };
  const setValue = { value: sql`${sql.placeholder("value")}`, updatedAt: now };
  // update's read, a builder each time: Drizzle's `for` changes the builder it is called on.
  const updateRead = () =>
    db
      .select({ ...readable, revision: table.revision })
      .from(table)
      .where(thisRow);
  return {
    getWithRevision: () =>
      db
        .select({ ...readable, revision: table.revision })
        .from(table)
        .where(and(thisRow, hasValue))
        .prepare(named("get_with_revision")),
    // update's read: a row without a value (the Go store can write one) counts as absent, but its
    // revision makes the write that follows replace it rather than conflict with it.
    updateRead: () => updateRead().prepare(named("update_read")),
    updateReadLocked: () => updateRead().for("update").prepare(named("update_read_locked")),
    /** setIf with revision 0: the row only if there is none. */
    insertIfAbsent: () => {
      const written = db.$with("written").as(
        db
          .insert(table)
          .values({ prefix, key, value: sql.placeholder("value"), createdAt: now, updatedAt: now })
          .onConflictDoNothing()
          .returning({ revision: table.revision }),
      );
      return db.with(current, written).select(revisionPair).from(compared(written)).prepare(named("insert_if_absent"));
    },
    /** update's write of a row it read `for update`: nothing can have moved it, so no compare. */
    updateLockedRow: () =>
      db
        .update(table)
        .set(setValue)
        .where(thisRow)
        .returning({ revision: table.revision })
        .prepare(named("update_locked_row")),
    /**
     * update's compare-and-set: no row when the row has moved on. Unlike updateIf it need not say
     * where to (update reads the row again), which spares it the locked read of the current revision.
     */
    updateAtRevision: () =>
      db
        .update(table)
        .set(setValue)
        .where(and(thisRow, expected))
        .returning({ revision: table.revision })
        .prepare(named("update_at_revision")),
    updateIf: () => {
      const written = db
        .$with("written")
        .as(db.update(table).set(setValue).where(and(thisRow, expected)).returning({ revision: table.revision }));
      return db.with(current, written).select(revisionPair).from(compared(written)).prepare(named("update_if"));
    },
    removeIf: () => {
      const written = db
        .$with("written")
        .as(db.delete(table).where(and(thisRow, expected)).returning({ revision: table.revision }));
      return db.with(current, written).select(revisionPair).from(compared(written)).prepare(named("remove_if"));
    },
  };
}
