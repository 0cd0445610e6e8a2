import { MIGRATIONS_SCHEMA } from "../migrations/catalog.js";
import { DEFAULT_SCHEMA } from "../schema.js";
import { StoreError } from "./errors.js";

/** How a store behaves, whatever it runs on. */
export interface StoreOptions {
  /**
   * Apply the package's migrations (see `migrate`) when the store is created, as the Go store's
   * automatic table initialization does. Turn it off where a deploy step runs
   * `drizzle-kit migrate`.
   * @default true
   */
  autoMigrate?: boolean;
  /**
   * How many rows `list`, `keys` and `entries` fetch in the first query of a walk; each later query
   * fetches twice as many as the one before, up to 16 times this (and 100,000); an `entries` page
   * stops growing at 2 MiB (its values, and about 1 KiB a row). Memory stays bounded by that whatever
   * the prefix holds.
   * @default 1000
   */
  pageSize?: number;
  /**
   * The PostgreSQL schema that holds the table and, for any schema but `public`, the migration
   * journal too (`<schema>.__workflow_store_migrations`). Stores on different schemas of one
   * database keep separate data and migrate independently. With `public` the journal stays in
   * drizzle-kit's default schema, `drizzle`, and the table is named without a schema, as the Go store
   * names it.
   * @default "public"
   */
  schema?: string;
  /**
   * The largest value `set`, `setMany` and `transaction` writes accept, in bytes: a larger one is
   * rejected with `INVALID_ARGUMENT` before anything is sent. PostgreSQL's own ceiling for one
   * value is 1 GB, and a value has to fit in the process's memory several times over on its way.
   * @default 67108864 (64 MiB)
   */
  maxValueBytes?: number;
  /**
   * Send the store's statements as named prepared statements, parsed and planned once per
   * connection. Turn it off behind a transaction-mode pooler (PgBouncer before 1.21, Supavisor, many
   * managed poolers), which hands each transaction to any server connection and so loses them: the
   * statements are then sent unnamed, on postgres.js and node-postgres alike.
   * @default true
   */
  prepare?: boolean;
  /**
   * While 2 of the store's statements (or its pool's size, if smaller) are running, let `get` and
   * `set` calls wait and send them together when one finishes: the gets as one read, the sets as
   * one multi-row upsert (one commit for all). Each call still settles on its own; a key set twice
   * keeps the later call's value; below that, nothing waits. Applies to stores that opened their
   * pool (`createPostgresStore`, `createEmbeddedStore`) and to stores over an app's database whose
   * pool size the driver tells (postgres.js, a node-postgres `Pool` or `Client`, PGlite), never
   * inside transactions. See docs/design.md.
   * @default true
   */
  batch?: boolean;
}

/** The defaults of {@link StoreOptions}. */
export const defaultStoreOptions: Readonly<Required<StoreOptions>> = Object.freeze({
  autoMigrate: true,
  pageSize: 1000,
  schema: DEFAULT_SCHEMA,
  maxValueBytes: 64 * 1024 * 1024,
  prepare: true,
  batch: true,
});

/** The most `maxValueBytes` may be: a little under PostgreSQL's 1 GB limit for one field. */
export const MAX_VALUE_BYTES_LIMIT = 1024 * 1024 * 1024 - 1024;

/**
 * The most value bytes one `setMany` writes: its values travel as one base64 text, which must fit
 * in a JavaScript string (about 512 MiB) and in one PostgreSQL field (1 GB).
 */
export const MAX_SET_MANY_BYTES = 256 * 1024 * 1024;

/** PostgreSQL keeps the first 63 bytes of a name (NAMEDATALEN - 1). */
const MAX_NAME_BYTES = 63;

/** The most rows one query of `list`, `keys`, `entries` or `purge` may fetch or delete. */
export const MAX_PAGE_SIZE = 100_000;

/** Rows per statement of `purge`. */
export const DEFAULT_PURGE_BATCH_SIZE = 1000;

/** Merges options over the defaults once, checks them and freezes the result. */
export function resolveStoreOptions(options: StoreOptions = {}): Readonly<Required<StoreOptions>> {
  const merged = {
    autoMigrate: options.autoMigrate ?? defaultStoreOptions.autoMigrate,
    pageSize: options.pageSize ?? defaultStoreOptions.pageSize,
    schema: options.schema ?? defaultStoreOptions.schema,
    maxValueBytes: options.maxValueBytes ?? defaultStoreOptions.maxValueBytes,
    prepare: options.prepare ?? defaultStoreOptions.prepare,
    batch: options.batch ?? defaultStoreOptions.batch,
  };
  if (typeof merged.autoMigrate !== "boolean") {
    throw new StoreError("CONFIG", { op: "config" }, "autoMigrate must be a boolean");
  }
  if (typeof merged.prepare !== "boolean") {
    throw new StoreError("CONFIG", { op: "config" }, "prepare must be a boolean");
  }
  if (typeof merged.batch !== "boolean") {
    throw new StoreError("CONFIG", { op: "config" }, "batch must be a boolean");
  }
  if (!Number.isInteger(merged.pageSize) || merged.pageSize < 1 || merged.pageSize > MAX_PAGE_SIZE) {
    throw new StoreError("CONFIG", { op: "config" }, `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  if (
    !Number.isInteger(merged.maxValueBytes) ||
    merged.maxValueBytes < 0 ||
    merged.maxValueBytes > MAX_VALUE_BYTES_LIMIT
  ) {
    throw new StoreError(
      "CONFIG",
      { op: "config" },
      `maxValueBytes must be a whole number from 0 to ${MAX_VALUE_BYTES_LIMIT}`,
    );
  }
  checkSchemaName(merged.schema);
  return Object.freeze(merged);
}

/** Checks a PostgreSQL schema name as the `schema` option and the CLI's `--schema` take it. */
export function checkSchemaName(schema: unknown): asserts schema is string {
  if (schema === MIGRATIONS_SCHEMA) {
    throw new StoreError(
      "CONFIG",
      { op: "config" },
      `schema "${MIGRATIONS_SCHEMA}" holds the migration journal of the default layout; choose another schema`,
    );
  }
  if (
    typeof schema !== "string" ||
    schema === "" ||
    schema.includes("\0") ||
    Buffer.byteLength(schema) > MAX_NAME_BYTES ||
    schema.startsWith("pg_")
  ) {
    throw new StoreError(
      "CONFIG",
      { op: "config" },
      `schema must be a PostgreSQL schema name: 1 to ${MAX_NAME_BYTES} bytes, no NUL, not starting with pg_`,
    );
  }
}
