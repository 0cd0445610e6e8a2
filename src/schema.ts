import { type BuildExtraConfigColumns, sql } from "drizzle-orm";
import {
  bigint,
  index,
  interval,
  pgSchema,
  pgSequence,
  pgTable,
  primaryKey,
  smallint,
  timestamp,
  varchar,
} from "drizzle-orm/pg-core";
import { bytea } from "./postgres/bytea.js";

/** The PostgreSQL schema the table lives in unless a store is told otherwise. */
export const DEFAULT_SCHEMA = "public";

/** The table's name, in whichever PostgreSQL schema it lives. */
export const TABLE_NAME = "workflow_store";

/** The sequence every write takes its revision from (and every lease its token). */
export const REVISION_SEQUENCE = "workflow_store_revision";

/** The channel writes of watched prefixes notify on, with an empty payload (migration 0005). */
export const CHANGES_CHANNEL = "workflow_store";

// A function, so that each table gets builders of its own.
const columns = () => ({
  prefix: varchar("prefix", { length: 255 }).notNull(),
  key: varchar("key", { length: 255 }).notNull(),
  value: bytea("value"),
  createdAt: timestamp("created_at", { mode: "date", withTimezone: true }).defaultNow(),
  updatedAt: timestamp("updated_at", { mode: "date", withTimezone: true }).defaultNow(),
  // Set by a trigger on every insert and update, whichever client writes (migration 0004), from the
  // sequence workflow_store_revision. No database default: one would take its value as the writing
  // role, which may have no grant on the sequence; the trigger runs as its owner. The 0 Drizzle
  // sends when an insert names none is replaced by the trigger.
  revision: bigint("revision", { mode: "number" })
    .notNull()
    .$defaultFn(() => 0),
});

const constraints = (table: BuildExtraConfigColumns<string, ReturnType<typeof columns>, "pg">) => [
  primaryKey({ name: "workflow_store_pkey", columns: [table.prefix, table.key] }),
  // Listing walks a prefix in byte order (`key collate "C"`), which the primary key, in the
  // database's collation, cannot give without sorting the whole prefix (migration 0002). It also
  // serves every lookup by prefix alone, so the Go store's index on the prefix went
  // (migration 0003): a planner without statistics for a new prefix chose it for point reads and
  // writes, and scanned the whole prefix for one key.
  index("workflow_store_prefix_key_bytes").on(table.prefix, sql`(key collate "C")`),
  // A watch reads a prefix's changes after a revision, not the whole prefix (migration 0005). The
  // prefix in the C collation, so that only statements that compare it so (the watch's) can use
  // the index: a planner without statistics for a prefix would otherwise choose this smaller index
  // for point reads and filter the whole prefix for the key, as it did the Go store's prefix index.
  index("workflow_store_prefix_revision").on(sql`(prefix collate "C")`, table.revision),
];

/**
 * The `workflow_store` table: one binary value per `(prefix, key)`.
 *
 * The same table, column for column, as the one the Go store creates, so that a database
 * it already set up is adopted as it is. The primary key keeps PostgreSQL's default name
 * (`workflow_store_pkey`) for the same reason.
 *
 * Timestamps are `timestamptz` (migration 0001; the Go store's were `timestamp`), so they
 * hold the true instant whichever store wrote them and whatever the session's `TimeZone`.
 *
 * @example
 * import { workflowStore } from "drizzle-workflow-store/schema";
 * const runs = await db.selectDistinct({ prefix: workflowStore.prefix }).from(workflowStore);
 */
export const workflowStore = pgTable(TABLE_NAME, columns(), constraints);

/** The `workflow_store` table in some PostgreSQL schema; the same columns as {@link workflowStore}. */
export type WorkflowStoreTable = typeof workflowStore;

const tables = new Map<string, WorkflowStoreTable>([[DEFAULT_SCHEMA, workflowStore]]);

/**
 * The `workflow_store` table of a store created with the `schema` option, for queries of your own.
 * `public` (the default) gives {@link workflowStore} itself, which names the table without a schema
 * as the Go store does.
 *
 * @example
 * const table = workflowStoreTable("tenant_a");
 * const rows = await db.select().from(table).where(eq(table.prefix, "/dag/"));
 */
export function workflowStoreTable(schema: string = DEFAULT_SCHEMA): WorkflowStoreTable {
  let table = tables.get(schema);
  if (table === undefined) {
    // Same columns and names; only the schema differs, which the type does not track.
    table = pgSchema(schema).table(TABLE_NAME, columns(), constraints) as unknown as WorkflowStoreTable;
    tables.set(schema, table);
  }
  return table;
}

/** A row of {@link workflowStore} as Drizzle selects it. */
export type WorkflowStoreRow = typeof workflowStore.$inferSelect;

// The tables of revisions, watch and leases (migration 0004), a function so that each schema gets its own.
const changeColumns = () => ({
  revision: bigint("revision", { mode: "number" }).notNull(),
  prefix: varchar("prefix", { length: 255 }).notNull(),
  /** The removed key; for a statement that removed several keys of the prefix, the first in byte order. */
  key: varchar("key", { length: 255 }).notNull(),
  /** For a statement that removed several keys of the prefix, the last in byte order; null for one key (migration 0005). */
  lastKey: varchar("last_key", { length: 255 }),
  removedAt: timestamp("removed_at", { mode: "date", withTimezone: true }).notNull().defaultNow(),
});

const changeConstraints = (table: BuildExtraConfigColumns<string, ReturnType<typeof changeColumns>, "pg">) => [
  // A watcher resuming a prefix reads its removes after a revision.
  primaryKey({ name: "workflow_store_changes_pkey", columns: [table.prefix, table.revision] }),
  // Removes older than the retention are dropped by the age of the remove.
  index("workflow_store_changes_removed_at").on(table.removedAt),
];

const compactionColumns = () => ({
  /** Always 1: the table has one row. */
  id: smallint("id").primaryKey(),
  revision: bigint("revision", { mode: "number" }).notNull(),
  /**
   * How long the change log keeps a remove (migration 0005). A column rather than a setting, so
   * that only a role that may update this table changes it, not any session that deletes a row.
   */
  retention: interval("retention").notNull().default("1 day"),
});

const watchColumns = () => ({
  prefix: varchar("prefix", { length: 255 }).notNull(),
  /** The watching store, a random id of its own. */
  watcher: varchar("watcher", { length: 64 }).notNull(),
  expiresAt: timestamp("expires_at", { mode: "date", withTimezone: true }).notNull(),
});

const watchConstraints = (table: BuildExtraConfigColumns<string, ReturnType<typeof watchColumns>, "pg">) => [
  // A writer looks its prefix up.
  primaryKey({ name: "workflow_store_watches_pkey", columns: [table.prefix, table.watcher] }),
];

const leaseColumns = () => ({
  name: varchar("name", { length: 255 }).primaryKey(),
  token: bigint("token", { mode: "number" }).notNull(),
  expiresAt: timestamp("expires_at", { mode: "date", withTimezone: true }).notNull(),
});

/** The sequence of revisions in the default schema. */
export const workflowStoreRevision = pgSequence(REVISION_SEQUENCE);

/**
 * Until when (seconds since the epoch) some prefix of the schema is watched: a writer reads it
 * before it looks a prefix up in workflow_store_watches, so that writes cost no lookup while
 * nothing is watched (migration 0005).
 */
export const workflowStoreWatchedUntil = pgSequence("workflow_store_watched_until", { minValue: 0, startWith: 0 });

/**
 * Removes, for watchers resuming after a revision: a trigger writes one row per deleting statement
 * and prefix (a range of keys when it removed several), and drops those older than the retention
 * of {@link workflowStoreCompaction} (migration 0005).
 */
export const workflowStoreChanges = pgTable("workflow_store_changes", changeColumns(), changeConstraints);

/**
 * The highest revision the change log has dropped (a watcher resuming before it gets `COMPACTED`),
 * and how long it keeps removes.
 */
export const workflowStoreCompaction = pgTable("workflow_store_compaction", compactionColumns());

/**
 * The prefixes some store watches and waits on, one row per prefix and store, each until the store
 * stops renewing it: writes of these prefixes wake the watching stores (NOTIFY), writes of others
 * notify nobody (migration 0005). A store that is reading a busy prefix anyway withdraws its row.
 */
export const workflowStoreWatches = pgTable("workflow_store_watches", watchColumns(), watchConstraints);

/** Leases: one row per name, its holder's fencing token and when it expires (database clock). */
export const workflowStoreLeases = pgTable("workflow_store_leases", leaseColumns());

/** The tables of one PostgreSQL schema. */
export interface WorkflowStoreTables {
  store: WorkflowStoreTable;
  changes: typeof workflowStoreChanges;
  compaction: typeof workflowStoreCompaction;
  leases: typeof workflowStoreLeases;
  watches: typeof workflowStoreWatches;
}

const tableSets = new Map<string, WorkflowStoreTables>();

/** Every table of the package in one PostgreSQL schema; `public` names them without a schema. */
export function workflowStoreTables(schema: string = DEFAULT_SCHEMA): WorkflowStoreTables {
  let found = tableSets.get(schema);
  if (found === undefined) {
    if (schema === DEFAULT_SCHEMA) {
      found = {
        store: workflowStore,
        changes: workflowStoreChanges,
        compaction: workflowStoreCompaction,
        leases: workflowStoreLeases,
        watches: workflowStoreWatches,
      };
    } else {
      // Same columns and names; only the schema differs, which the types do not track.
      const inSchema = pgSchema(schema);
      found = {
        store: workflowStoreTable(schema),
        changes: inSchema.table(
          "workflow_store_changes",
          changeColumns(),
          changeConstraints,
        ) as unknown as typeof workflowStoreChanges,
        compaction: inSchema.table(
          "workflow_store_compaction",
          compactionColumns(),
        ) as unknown as typeof workflowStoreCompaction,
        leases: inSchema.table("workflow_store_leases", leaseColumns()) as unknown as typeof workflowStoreLeases,
        watches: inSchema.table(
          "workflow_store_watches",
          watchColumns(),
          watchConstraints,
        ) as unknown as typeof workflowStoreWatches,
      };
    }
    tableSets.set(schema, found);
  }
  return found;
}
