import { sql } from "drizzle-orm";
import { StoreError } from "../core/errors.js";
import { checkSchemaName, defaultStoreOptions } from "../core/options.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { translateError } from "../postgres/translate.js";
import { TABLE_NAME } from "../schema.js";
import { inspectCatalog, layoutOf, resultRows, tableRegclass } from "./catalog.js";
import { MIGRATION_LOCK_ID } from "./migrate.js";

/** What {@link partitionTable} is asked. */
export interface PartitionOptions {
  /** How many hash partitions of `prefix`, 2 to 1,024. Fixed once made: choose for the table's growth. */
  partitions: number;
  /** The PostgreSQL schema of the table, as the store's `schema` option. @default "public" */
  schema?: string;
}

/** What {@link partitionTable} found or did. */
export interface PartitionResult {
  /** Whether this call turned a plain table into a partitioned one. */
  converted: boolean;
  /** The table's partitions now. */
  partitions: number;
  /** Rows copied into the partitions (0 when nothing was converted). */
  rows: number;
}

const MAX_PARTITIONS = 1024;

function partitionError(code: "CONFIG" | "SCHEMA", detail: string): StoreError {
  return new StoreError(code, { op: "migrate" }, detail);
}

/** The table's schema (found on the search_path in the default layout) and its partitions. */
async function tableState(db: AnyPgDatabase, schema: string) {
  const [row] = resultRows(
    await db.execute(sql`select n.nspname as "schema",
        (select count(*)::int from pg_catalog.pg_inherits i where i.inhparent = c.oid) as "partitions"
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.oid = ${tableRegclass(schema)}`),
  );
  return row === undefined ? undefined : { schema: String(row.schema), partitions: Number(row.partitions) };
}

/** The statements that make the table's indexes, triggers and grants, as the catalog has them now. */
async function dependents(db: AnyPgDatabase, schema: string): Promise<string[]> {
  const table = tableRegclass(schema);
  const rows = resultRows(
    await db.execute(sql`
      select pg_catalog.pg_get_indexdef(i.indexrelid) as "statement", 1 as "step" from pg_catalog.pg_index i
        where i.indrelid = ${table}::regclass and not i.indisprimary
      union all
      select pg_catalog.pg_get_triggerdef(t.oid), 2 from pg_catalog.pg_trigger t
        where t.tgrelid = ${table}::regclass and not t.tgisinternal
      union all
      select format('GRANT %s ON %s TO %s%s', a.privilege_type, ${table}::regclass,
          case when a.grantee = 0 then 'PUBLIC' else quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) end,
          case when a.is_grantable then ' WITH GRANT OPTION' else '' end), 3
        from pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
        where c.oid = ${table}::regclass and a.grantee <> c.relowner
      order by 2`),
  );
  // The watch's index compares the prefix in the column's collation on a partitioned table, which
  // is what its partitions are pruned by (see statementContext), not in C as on the plain table.
  return rows.map((row) =>
    String(row.statement).replace(
      /^(CREATE INDEX workflow_store_prefix_revision ON .*)\(prefix COLLATE "C", revision\)$/,
      "$1(prefix, revision)",
    ),
  );
}

/**
 * Makes the `workflow_store` table hash-partitioned by `prefix` into `partitions` partitions
 * (`workflow_store_p0` …), keeping every row with its revision and timestamps, and every index,
 * trigger and grant of the table; does nothing to a table already partitioned. The primary key
 * leads with the prefix, so each call of the store, which names one prefix, reads and writes one
 * partition (`prefixStats` and `purge` without a prefix read them all).
 *
 * One transaction under the migrations' lock: it holds the table's ACCESS EXCLUSIVE lock while it
 * copies the rows (writers and readers wait), and either every row is in the partitions and the
 * plain table is gone, or nothing changed. Run it as the table's owner after {@link migrate}, on a
 * new table (it has nothing to copy) or in a maintenance window (see the README).
 *
 * @example
 * await migrate(db);
 * await partitionTable(db, { partitions: 16 });
 */
export async function partitionTable(db: AnyPgDatabase, options: PartitionOptions): Promise<PartitionResult> {
  const { partitions } = options;
  const schema = options.schema ?? defaultStoreOptions.schema;
  checkSchemaName(schema);
  if (!Number.isInteger(partitions) || partitions < 2 || partitions > MAX_PARTITIONS) {
    throw partitionError("CONFIG", `partitions must be a whole number from 2 to ${MAX_PARTITIONS}`);
  }
  try {
    return await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(MIGRATION_LOCK_ID.toString())})`);
      const catalog = await inspectCatalog(tx, layoutOf(schema));
      const state = await tableState(tx, schema);
      if (state === undefined || !catalog.revisionTriggerExists) {
        throw partitionError("SCHEMA", `the ${TABLE_NAME} table is missing or not migrated: run migrate first`);
      }
      if (catalog.partitioned) return { converted: false, partitions: state.partitions, rows: 0 };
      const qualified = (name: string) => sql`${sql.identifier(state.schema)}.${sql.identifier(name)}`;
      const table = qualified(TABLE_NAME);
      const staging = qualified(`${TABLE_NAME}_partitioned`);
      await tx.execute(sql`lock table ${table} in access exclusive mode`);
      const replay = await dependents(tx, state.schema);
      await tx.execute(
        sql`create table ${staging} (like ${table} including defaults including constraints including storage including comments) partition by hash (prefix)`,
      );
      for (let i = 0; i < partitions; i++) {
        await tx.execute(
          sql`create table ${qualified(`${TABLE_NAME}_p${i}`)} partition of ${staging} for values with (modulus ${sql.raw(String(partitions))}, remainder ${sql.raw(String(i))})`,
        );
      }
      // Before the triggers: the rows keep their revisions.
      const copied = resultRows(
        await tx.execute(
          sql`with copied as (insert into ${staging} select * from ${table} returning 1) select count(*)::int as "rows" from copied`,
        ),
      );
      await tx.execute(sql`drop table ${table}`);
      await tx.execute(sql`alter table ${staging} rename to ${sql.identifier(TABLE_NAME)}`);
      await tx.execute(
        sql`alter table ${table} add constraint ${sql.identifier(`${TABLE_NAME}_pkey`)} primary key (prefix, key)`,
      );
      for (const statement of replay) await tx.execute(sql.raw(statement));
      await tx.execute(sql`analyze ${table}`);
      return { converted: true, partitions, rows: Number(copied[0]?.rows ?? 0) };
    });
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw translateError(error, { op: "migrate" });
  }
}
