export { bytea } from "./bytea.js";
export { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from "./catalog.js";
export type { PostgresConfig, SslMode } from "./config.js";
export { defaultConfig, defaultPoolSettings, SSL_MODES, validateConfig } from "./config.js";
export { parseDsn, toDsn } from "./dsn.js";
export type { EmbeddedConnectionOptions, EmbeddedStoreOptions } from "./embedded-store.js";
export { connectEmbedded, createEmbeddedStore } from "./embedded-store.js";
export { configFromEnv } from "./env.js";
export type { ErrorSite, StoreErrorCode, StoreOperation } from "./errors.js";
export { StoreError } from "./errors.js";
export { checkKey, checkPrefix } from "./input.js";
export type { MemoryStoreOptions } from "./memory-store.js";
export { MemoryStore } from "./memory-store.js";
export type { AnyPgDatabase, MigrateOptions, MigrationInfo, MigrationStatus } from "./migrate.js";
export { migrate, migrationStatus } from "./migrate.js";
export type { StoreOptions } from "./options.js";
export {
  DEFAULT_PURGE_BATCH_SIZE,
  defaultStoreOptions,
  MAX_PAGE_SIZE,
  MAX_SET_MANY_BYTES,
  MAX_VALUE_BYTES_LIMIT,
} from "./options.js";
export { connectPostgres, createPostgresStore } from "./postgres-store.js";
export type { WorkflowStoreRow, WorkflowStoreTable, WorkflowStoreTables } from "./schema.js";
export {
  DEFAULT_SCHEMA,
  REVISION_SEQUENCE,
  TABLE_NAME,
  workflowStore,
  workflowStoreChanges,
  workflowStoreCompaction,
  workflowStoreLeases,
  workflowStoreRevision,
  workflowStoreTable,
  workflowStoreTables,
  workflowStoreWatchedUntil,
  workflowStoreWatches,
} from "./schema.js";
export { createStoreWithDb, DrizzleStore } from "./store.js";
export { translateError } from "./translate.js";
export type {
  CompareOptions,
  Connection,
  EntriesInput,
  KeysOptions,
  Lease,
  LeaseOptions,
  ListIterator,
  PurgeOptions,
  RevisionedValue,
  Store,
  StoreEntry,
  Updater,
  WatchEvent,
  WatchOptions,
} from "./types.js";
