import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { bigint, type PgDatabase, type PgQueryResultHKT, pgSchema, serial, text } from "drizzle-orm/pg-core";
import { translateError } from "./translate.js";

/** Any Drizzle PostgreSQL database or transaction, whatever its driver. */
// biome-ignore lint/suspicious/noExplicitAny: the store works with every app schema.
export type AnyPgDatabase = PgDatabase<PgQueryResultHKT, any, any>;

/** Schema of the package's migrations table (drizzle-kit's default schema). */
export const MIGRATIONS_SCHEMA = "drizzle";
/** The package's own migrations table; `drizzle.config.ts` names the same one. */
export const MIGRATIONS_TABLE = "__workflow_store_migrations";

// Taken for the whole migration transaction, so that processes starting at once apply each
// migration exactly once and none fails on a half-created schema. The number is arbitrary and
// only has to be the package's own.
const MIGRATION_LOCK_ID = 0x5753_4d49_4752_4154n;

// The layout drizzle-kit's migrator reads and writes, so both see the same history.
const migrationsTable = pgSchema(MIGRATIONS_SCHEMA).table(MIGRATIONS_TABLE, {
  id: serial("id").primaryKey(),
  hash: text("hash").notNull(),
  createdAt: bigint("created_at", { mode: "number" }),
});

// drizzle/ sits beside src/ and dist/ alike.
const migrationsFolder = fileURLToPath(new URL("../drizzle", import.meta.url));

/**
 * Applies the package's migrations (in `drizzle/`) that the database has not seen, in one
 * transaction under a PostgreSQL advisory lock, and records them in
 * `drizzle.__workflow_store_migrations`. Safe to run from many processes at once; running it again
 * is a no-op. A `workflow_store` table created by the original Go store is adopted with its rows.
 *
 * @example
 * const db = drizzle(process.env.DATABASE_URL!);
 * await migrate(db);
 */
export async function migrate(db: AnyPgDatabase): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder });
  try {
    await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(MIGRATION_LOCK_ID.toString())})`);
      await tx.execute(sql`create schema if not exists ${sql.identifier(MIGRATIONS_SCHEMA)}`);
      await tx.execute(
        sql`create table if not exists ${migrationsTable} (id serial primary key, hash text not null, created_at bigint)`,
      );
      const applied = new Set(
        (await tx.select({ hash: migrationsTable.hash }).from(migrationsTable)).map((row) => row.hash),
      );
      for (const migration of migrations) {
        if (applied.has(migration.hash)) continue;
        for (const statement of migration.sql) {
          if (statement.trim() !== "") await tx.execute(sql.raw(statement));
        }
        await tx.insert(migrationsTable).values({ hash: migration.hash, createdAt: migration.folderMillis });
      }
    });
  } catch (error) {
    throw translateError(error, { op: "migrate" });
  }
}
