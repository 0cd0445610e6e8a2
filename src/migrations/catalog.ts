import { sql } from "drizzle-orm";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { DEFAULT_SCHEMA, TABLE_NAME } from "../schema.js";

/** Where a store's table and its migration journal live. */
export interface Layout {
  /** The schema of the table (`public`: named without a schema, as the Go store names it). */
  schema: string;
  /** The schema of the journal: drizzle-kit's default `drizzle` for `public`, else the table's own. */
  journalSchema: string;
  journalTable: string;
}

/** The package's own migrations table; `drizzle.config.ts` names the same one. */
export const MIGRATIONS_TABLE = "__workflow_store_migrations";

/** Schema of the migrations table of the default layout (drizzle-kit's default schema). */
export const MIGRATIONS_SCHEMA = "drizzle";

export function layoutOf(schema: string): Layout {
  return {
    schema,
    journalSchema: schema === DEFAULT_SCHEMA ? MIGRATIONS_SCHEMA : schema,
    journalTable: MIGRATIONS_TABLE,
  };
}

/** The journal's qualified name, as messages show it. */
export function journalName(layout: Layout): string {
  return `${layout.journalSchema}.${layout.journalTable}`;
}

/**
 * The store's table in `schema`, as a `regclass` (NULL when it is missing): `public` looked up on
 * the search_path, as the store's unqualified statements are.
 */
export function tableRegclass(schema: string) {
  return schema === DEFAULT_SCHEMA
    ? sql`to_regclass(${`"${TABLE_NAME}"`})`
    : sql`to_regclass(format('%I.%I', ${schema}::text, ${TABLE_NAME}::text))`;
}

/** What the catalog says about a layout. */
export interface CatalogState {
  journalSchemaExists: boolean;
  tableSchemaExists: boolean;
  journalExists: boolean;
  /** The role may read the journal (USAGE on its schema and SELECT on it). */
  journalReadable: boolean;
  tableExists: boolean;
  /**
   * The table has the triggers of migrations 0004 and 0005: every write's revision, and the change
   * log of removes with the writer locks watches wait out.
   */
  revisionTriggerExists: boolean;
  /** The table is hash-partitioned by prefix (see partitionTable). */
  partitioned: boolean;
}

/** Rows of `db.execute`, which postgres.js returns as an array and node-postgres and PGlite in `rows`. */
export function resultRows(result: unknown): Record<string, unknown>[] {
  if (Array.isArray(result)) return result;
  return (result as { rows: Record<string, unknown>[] }).rows;
}

/**
 * Reads the catalog only, so it needs no privilege, raises no error and sends no NOTICE: safe on
 * a least-privileged role and inside the caller's own transaction.
 */
export async function inspectCatalog(db: AnyPgDatabase, layout: Layout): Promise<CatalogState> {
  // `public` is looked up on the search_path, as the store's unqualified statements are.
  const table =
    layout.schema === DEFAULT_SCHEMA
      ? sql`to_regclass(${`"${TABLE_NAME}"`}) is not null`
      : sql`exists (select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                    where n.nspname = ${layout.schema} and c.relname = ${TABLE_NAME})`;
  const oid = tableRegclass(layout.schema);
  const result = await db.execute(sql`
    with journal as (
      select c.oid, n.oid as nsp from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${layout.journalSchema} and c.relname = ${layout.journalTable}
    )
    select
      exists (select 1 from pg_catalog.pg_namespace where nspname = ${layout.journalSchema}) as "journalSchemaExists",
      exists (select 1 from pg_catalog.pg_namespace where nspname = ${layout.schema}) as "tableSchemaExists",
      exists (select 1 from journal) as "journalExists",
      coalesce((select has_schema_privilege(nsp, 'USAGE') and has_table_privilege(oid, 'SELECT') from journal), false)
        as "journalReadable",
      ${table} as "tableExists",
      (select count(*) = 2 from pg_catalog.pg_trigger
        where tgname in ('workflow_store_revise', 'workflow_store_log_removes') and tgrelid = ${oid}) as "revisionTriggerExists",
      coalesce((select relkind = 'p' from pg_catalog.pg_class where oid = ${oid}), false) as "partitioned"`);
  const [row] = resultRows(result);
  return {
    journalSchemaExists: row?.journalSchemaExists === true,
    tableSchemaExists: row?.tableSchemaExists === true,
    journalExists: row?.journalExists === true,
    journalReadable: row?.journalReadable === true,
    tableExists: row?.tableExists === true,
    revisionTriggerExists: row?.revisionTriggerExists === true,
    partitioned: row?.partitioned === true,
  };
}
