import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

/** Any Drizzle PostgreSQL database or transaction, whatever its driver. */
// biome-ignore lint/suspicious/noExplicitAny: the store works with every app schema.
export type AnyPgDatabase = PgDatabase<PgQueryResultHKT, any, any>;

/**
 * A Drizzle database the package opened ({@link connectPostgres}, {@link connectEmbedded}), with
 * what closes it.
 */
export interface Connection {
  readonly db: AnyPgDatabase;
  /** What the connection reaches, for messages; never holds a password. */
  readonly label: string;
  close(): Promise<void>;
}
