import { TABLE_NAME } from "../index.js";

/** One statement the guard rewrote, as `guard-migrations` reports it. */
export interface GuardChange {
  before: string;
  after: string;
}

// The store's table and its indexes as drizzle-kit writes them, with or without a schema.
const TABLE = String.raw`(?:"[^"]+"\.)?"${TABLE_NAME}"`;
const CREATE_TABLE = new RegExp(`CREATE TABLE (?!IF NOT EXISTS)(${TABLE})`, "g");
const CREATE_INDEX = new RegExp(`CREATE INDEX (?!IF NOT EXISTS)("[^"]+" ON ${TABLE})`, "g");
const DROP_TABLE = new RegExp(`^DROP TABLE (${TABLE})[^;]*;`, "gm");

/**
 * Rewrites an app's drizzle-kit migration so that it neither fails on the store's table nor drops
 * it: `CREATE TABLE` and `CREATE INDEX` of the table become `IF NOT EXISTS` (the store may have
 * created them first), and a `DROP TABLE` of it (the app stopped listing the table) becomes a
 * comment, so its rows stay and the package owns the table again. Everything else is kept as it is.
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
    .replace(DROP_TABLE, (before) =>
      record(before, `-- removed by workflow-store guard-migrations, to keep the table: ${before}`),
    );
  return { sql: guarded, changes };
}
