import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { bigint, pgSchema, serial, text } from "drizzle-orm/pg-core";
import { StoreError } from "../core/errors.js";
import { checkSchemaName, defaultStoreOptions } from "../core/options.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { isPermissionDenied, translateError } from "../postgres/translate.js";
import { DEFAULT_SCHEMA, TABLE_NAME } from "../schema.js";
import { type CatalogState, inspectCatalog, journalName, type Layout, layoutOf, resultRows } from "./catalog.js";

/** Where {@link migrate} and {@link migrationStatus} look. */
export interface MigrateOptions {
  /** The PostgreSQL schema of the table, as the store's `schema` option. @default "public" */
  schema?: string;
}

/** One of the package's migrations (a file in its `drizzle/` folder). */
export interface MigrationInfo {
  /** drizzle-kit's name for it, e.g. `0000_workflow_store`. */
  tag: string;
  /** The hash the journal records, as drizzle-kit computes it. */
  hash: string;
  /** Its SQL statements, in order. */
  sql: string[];
  applied: boolean;
}

/** What {@link migrationStatus} finds. */
export interface MigrationStatus {
  schema: string;
  /** The journal's qualified name, e.g. `drizzle.__workflow_store_migrations`. */
  journal: string;
  /** Whether the `workflow_store` table exists (whatever the journal says). */
  tableExists: boolean;
  /** Every migration of the package, in order. */
  migrations: MigrationInfo[];
  /** What {@link migrate} would run: the unapplied ones, or all of them when the table is missing. */
  pending: MigrationInfo[];
}

// Taken for the whole migration transaction, so that processes starting at once apply each
// migration exactly once and none fails on a half-created schema. The number is arbitrary and
// only has to be the package's own.
export const MIGRATION_LOCK_ID = 0x5753_4d49_4752_4154n;

// drizzle/ sits beside src/ and dist/ alike.
const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));

interface MigrationFile {
  tag: string;
  hash: string;
  sql: string[];
  folderMillis: number;
}

let migrationFiles: MigrationFile[] | undefined;

/** The package's migrations with drizzle-kit's tags, read once. */
function readMigrations(): MigrationFile[] {
  if (migrationFiles === undefined) {
    const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, "utf8")) as {
      entries: { tag: string }[];
    };
    migrationFiles = readMigrationFiles({ migrationsFolder }).map((migration, i) => ({
      tag: journal.entries[i]?.tag ?? String(i),
      hash: migration.hash,
      sql: migration.sql.map((statement) => statement.trim()).filter((statement) => statement !== ""),
      folderMillis: migration.folderMillis,
    }));
  }
  return migrationFiles;
}

function journalTable(layout: Layout) {
  // The layout drizzle-kit's migrator reads and writes, so both see the same history.
  return pgSchema(layout.journalSchema).table(layout.journalTable, {
    id: serial("id").primaryKey(),
    hash: text("hash").notNull(),
    createdAt: bigint("created_at", { mode: "number" }),
  });
}

function resolveLayout(options: MigrateOptions | undefined): Layout {
  const schema = options?.schema ?? defaultStoreOptions.schema;
  checkSchemaName(schema);
  return layoutOf(schema);
}

async function appliedHashes(db: AnyPgDatabase, layout: Layout, catalog: CatalogState): Promise<Set<string>> {
  if (!catalog.journalExists) return new Set();
  const journal = journalTable(layout);
  return new Set((await db.select({ hash: journal.hash }).from(journal)).map((row) => row.hash));
}

function statusOf(layout: Layout, catalog: CatalogState, applied: Set<string>): MigrationStatus {
  const migrations = readMigrations().map(({ tag, hash, sql }) => ({ tag, hash, sql, applied: applied.has(hash) }));
  return {
    schema: layout.schema,
    journal: journalName(layout),
    tableExists: catalog.tableExists,
    migrations,
    // Without the table, every migration runs again to rebuild it (they are written to allow it).
    pending: catalog.tableExists ? migrations.filter((m) => !m.applied) : migrations,
  };
}

function unreadableJournal(layout: Layout): StoreError {
  return new StoreError(
    "PERMISSION",
    { op: "migrate" },
    `this role may not read the migration journal ${journalName(layout)}, so it cannot tell whether migrations ` +
      `are pending: grant it USAGE on schema "${layout.journalSchema}" and SELECT on the journal, or create ` +
      "the store with autoMigrate: false where a deploy step runs `workflow-store migrate`",
  );
}

/**
 * Which of the package's migrations the database has applied and which are pending, and whether
 * the table is there. Reads only; needs no privilege beyond reading the journal.
 *
 * @example
 * const { pending } = await migrationStatus(db);
 * if (pending.length > 0) console.log(pending.map((m) => m.sql.join(";\n")).join("\n"));
 */
export async function migrationStatus(db: AnyPgDatabase, options?: MigrateOptions): Promise<MigrationStatus> {
  const layout = resolveLayout(options);
  try {
    const catalog = await inspectCatalog(db, layout);
    if (catalog.journalExists && !catalog.journalReadable) throw unreadableJournal(layout);
    return statusOf(layout, catalog, await appliedHashes(db, layout, catalog));
  } catch (error) {
    throw translateError(error, { op: "migrate" });
  }
}

/** A name as PostgreSQL quotes it, for `search_path`. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Why {@link migrate} has work to do, for its errors. */
function describePending(status: MigrationStatus): string {
  if (status.migrations.every((m) => m.applied) && !status.tableExists) {
    return (
      `the ${TABLE_NAME} table is missing although ${status.journal} records every migration as applied ` +
      "(dropped by `drizzle-kit push`, or restored from a partial dump?) and must be created again"
    );
  }
  const tags = status.pending.map((m) => m.tag).join(", ");
  return status.pending.length === 1 ? `migration ${tags} is pending` : `migrations ${tags} are pending`;
}

/**
 * Applies the package's migrations (in `drizzle/`) that the database has not seen, in one
 * transaction under a PostgreSQL advisory lock, and records them in its journal
 * (`drizzle.__workflow_store_migrations`, or `<schema>.__workflow_store_migrations` with the
 * `schema` option). Resolves with what it applied.
 *
 * It reads the journal first and, when nothing is pending, takes no lock and creates nothing, so a
 * role that may only read and write the table passes. Safe to run from many processes at once. A
 * `workflow_store` table created by the Go store is adopted with its rows; one dropped
 * behind the journal's back is created again.
 *
 * @example
 * const db = drizzle(process.env.DATABASE_URL!);
 * await migrate(db);
 */
export async function migrate(db: AnyPgDatabase, options?: MigrateOptions): Promise<MigrationInfo[]> {
  const layout = resolveLayout(options);
  const before = await migrationStatus(db, { schema: layout.schema });
  if (before.pending.length === 0) return [];
  try {
    return await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(MIGRATION_LOCK_ID.toString())})`);
      // Another process may have migrated while this one waited for the lock.
      const catalog = await inspectCatalog(tx, layout);
      const status = statusOf(layout, catalog, await appliedHashes(tx, layout, catalog));
      if (status.pending.length === 0) return [];
      // Local to this transaction (restored below, in case it is a savepoint in the caller's):
      // the IF NOT EXISTS notices are expected, unqualified DDL lands in the store's schema, and a
      // migration may set its own TimeZone.
      const [saved] = resultRows(
        await tx.execute(
          sql`select current_setting('search_path') as "searchPath", current_setting('client_min_messages') as "messages",
              current_setting('TimeZone') as "timeZone"`,
        ),
      );
      await tx.execute(sql`select set_config('client_min_messages', 'warning', true)`);
      if (!catalog.journalSchemaExists) {
        await tx.execute(sql`create schema if not exists ${sql.identifier(layout.journalSchema)}`);
      }
      if (!catalog.journalExists) {
        await tx.execute(
          sql`create table if not exists ${journalTable(layout)} (id serial primary key, hash text not null, created_at bigint)`,
        );
      }
      // In the default layout the table goes where the search_path puts it, as the Go store's does.
      if (layout.schema !== DEFAULT_SCHEMA) {
        if (!catalog.tableSchemaExists) {
          await tx.execute(sql`create schema if not exists ${sql.identifier(layout.schema)}`);
        }
        await tx.execute(sql`select set_config('search_path', ${quoteIdentifier(layout.schema)}, true)`);
      }
      const journal = journalTable(layout);
      for (const migration of status.pending) {
        for (const statement of migration.sql) await tx.execute(sql.raw(statement));
        if (!migration.applied) {
          const file = readMigrations().find((m) => m.hash === migration.hash);
          await tx.insert(journal).values({ hash: migration.hash, createdAt: file?.folderMillis ?? Date.now() });
        }
      }
      await tx.execute(
        sql`select set_config('search_path', ${String(saved?.searchPath)}, true),
                   set_config('client_min_messages', ${String(saved?.messages)}, true),
                   set_config('TimeZone', ${String(saved?.timeZone)}, true)`,
      );
      return status.pending.map((m) => ({ ...m, applied: true }));
    });
  } catch (error) {
    if (isPermissionDenied(error)) {
      const reason = translateError(error, { op: "migrate" });
      const needs = await missingPrivileges(db, layout).catch(() => []);
      const privileges =
        needs.length > 0 ? needs.join(" and ") : `ownership of ${TABLE_NAME} and INSERT on the journal`;
      throw new StoreError(
        "PERMISSION",
        { op: "migrate" },
        `${reason.message.replace(/^workflow store migrate: /, "")}: ${describePending(before)}, which needs ` +
          `${privileges}. Run \`workflow-store migrate\` as an owner of the database (or grant ${needs.length > 1 ? "them" : "it"}), ` +
          "then start again",
        { cause: reason.cause },
      );
    }
    throw translateError(error, { op: "migrate" });
  }
}

/** The CREATE privileges this role lacks for what is missing, as a message names them. */
async function missingPrivileges(db: AnyPgDatabase, layout: Layout): Promise<string[]> {
  const catalog = await inspectCatalog(db, layout);
  const [row] = resultRows(
    await db.execute(sql`
      select
        current_database() as "database",
        has_database_privilege(current_database(), 'CREATE') as "onDatabase",
        ${layout.schema === DEFAULT_SCHEMA ? sql`current_schema()` : sql`${layout.schema}::text`} as "tableSchema",
        (select has_schema_privilege(oid, 'CREATE') from pg_catalog.pg_namespace where nspname = ${layout.journalSchema})
          as "onJournalSchema",
        (select has_schema_privilege(oid, 'CREATE') from pg_catalog.pg_namespace
          where nspname = ${layout.schema === DEFAULT_SCHEMA ? sql`current_schema()` : layout.schema}) as "onTableSchema"`),
  );
  const needs: string[] = [];
  const newSchema = !catalog.journalSchemaExists || (layout.schema !== DEFAULT_SCHEMA && !catalog.tableSchemaExists);
  if (newSchema && row?.onDatabase !== true) needs.push(`CREATE on database "${row?.database}"`);
  if (catalog.journalSchemaExists && !catalog.journalExists && row?.onJournalSchema !== true) {
    needs.push(`CREATE on schema "${layout.journalSchema}"`);
  }
  if (!catalog.tableExists && row?.onTableSchema !== true && row?.tableSchema !== layout.journalSchema) {
    needs.push(`CREATE on schema "${row?.tableSchema}"`);
  }
  return needs;
}
