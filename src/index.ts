export type { PostgresConfig, PostgresHost, SslMode, TargetSessionAttrs } from "./config/config.js";
export {
  defaultConfig,
  defaultPoolSettings,
  SSL_MODES,
  TARGET_SESSION_ATTRS,
  validateConfig,
} from "./config/config.js";
export { parseDsn, toDsn } from "./config/dsn.js";
export { configFromEnv } from "./config/env.js";
export type { ErrorSite, StoreErrorCode, StoreOperation } from "./core/errors.js";
export { StoreError } from "./core/errors.js";
export { checkKey, checkPrefix } from "./core/input.js";
export type { StoreOptions } from "./core/options.js";
export {
  DEFAULT_PURGE_BATCH_SIZE,
  defaultStoreOptions,
  MAX_PAGE_SIZE,
  MAX_SET_MANY_BYTES,
  MAX_VALUE_BYTES_LIMIT,
} from "./core/options.js";
export type * from "./core/types.js";
export type { AnyPgDatabase, Connection } from "./drivers/contract.js";
export { connectNodePostgres } from "./drivers/node-postgres/connect.js";
export { pgliteByteaCodec } from "./drivers/pglite/bytea-codec.js";
export type { EmbeddedConnectionOptions, EmbeddedStoreOptions } from "./drivers/pglite/store.js";
export { connectEmbedded, createEmbeddedStore } from "./drivers/pglite/store.js";
export { connectPostgres, createPostgresStore } from "./drivers/postgres-js/connect.js";
export type { MemoryStoreOptions } from "./memory/options.js";
export { MemoryStore } from "./memory/store.js";
export { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from "./migrations/catalog.js";
export type { MigrateOptions, MigrationInfo, MigrationStatus } from "./migrations/migrate.js";
export { migrate, migrationStatus } from "./migrations/migrate.js";
export type { PartitionOptions, PartitionResult } from "./migrations/partition.js";
export { partitionTable } from "./migrations/partition.js";
export { bytea } from "./postgres/bytea.js";
export { createStoreWithDb } from "./postgres/open.js";
export type { PostgresStoreOptions, ReadReplica } from "./postgres/replica-options.js";
export { DrizzleStore } from "./postgres/store.js";
export { translateError } from "./postgres/translate.js";
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
