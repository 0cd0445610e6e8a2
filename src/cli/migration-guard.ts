import { REVISION_SEQUENCE, TABLE_NAME } from "../index.js";

/** One statement the guard rewrote, as `guard-migrations` reports it. */
interface GuardChange {
  before: string;
  after: string;
}

// The store's tables (the values, the change log, the compaction mark, the leases, the watched
// prefixes), their indexes and its sequences (revisions, the watch hint) as drizzle-kit writes
// them, with or without a schema.
const TABLE = String.raw`(?:"[^"]+"\.)?"${TABLE_NAME}(?:_changes|_compaction|_leases|_watches)?"`;
const SEQUENCE = String.raw`(?:"[^"]+"\.)?"(?:${REVISION_SEQUENCE}|${TABLE_NAME}_watched_until)"`;
const CREATE_SEQUENCE = new RegExp(`CREATE SEQUENCE (?!IF NOT EXISTS)(${SEQUENCE})`, "g");
const DROP_SEQUENCE = new RegExp(`^DROP SEQUENCE (${SEQUENCE})[^;]*;`, "gm");
const CREATE_TABLE = new RegExp(`CREATE TABLE (?!IF NOT EXISTS)(${TABLE})`, "g");
const CREATE_INDEX = new RegExp(`CREATE INDEX (?!IF NOT EXISTS)("[^"]+" ON ${TABLE})`, "g");
const DROP_TABLE = new RegExp(`^DROP TABLE (${TABLE})[^;]*;`, "gm");

/**
 * Rewrites an app's drizzle-kit migration so that it neither fails on the store's table nor drops
 * it: `CREATE TABLE`, `CREATE INDEX` and `CREATE SEQUENCE` of the package's tables and sequence
 * become `IF NOT EXISTS` (the store may have created them first), and a `DROP TABLE` or `DROP
 * SEQUENCE` of them (the app stopped listing them) becomes a comment, so their rows stay and the
 * package owns them again. Everything else is kept as it is.
 */
export function guardMigration(sql: string): { sql: string; changes: GuardChange[] } {
  const changes: GuardChange[] = [];
  const record = (before: string, after: string) => {
    changes.push({ before, after });
    return after;
  };
  const guarded = sql
    .replace(CREATE_TABLE, (before, table: string) => record(before, `CREATE TABLE IF NOT EXISTS ${table}`))
    .replace(CREATE_INDEX, (before, index: string) => record(before, `CREATE INDEX IF NOT EXISTS ${index}`))
    .replace(CREATE_SEQUENCE, (before, sequence: string) => record(before, `CREATE SEQUENCE IF NOT EXISTS ${sequence}`))
    .replace(DROP_TABLE, (before) =>
      record(before, `-- removed by workflow-store guard-migrations, to keep the table: ${before}`),
    )
    .replace(DROP_SEQUENCE, (before) =>
      record(before, `-- removed by workflow-store guard-migrations, to keep the revisions: ${before}`),
    );
  return { sql: guarded, changes };
}
