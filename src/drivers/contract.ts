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

/**
 * Listens on a channel with one driver: calls `onPayload` with each notification's payload, `onGap`
 * when some may have been missed (the connection was lost and listens again), and `onFail` when it
 * will listen no more (it could not reconnect within its bound), with the last error. Resolves once
 * listening, with what stops it.
 */
export type Listen = (
  onPayload: (payload: string) => void,
  onGap: () => void,
  onFail: (error: unknown) => void,
) => Promise<() => Promise<void>>;

/**
 * What the store needs of a driver beyond Drizzle's own API, for the driver's client under a
 * Drizzle database (`db.$client`).
 */
export interface Driver {
  /** The kind Drizzle gives the sessions of this driver's databases and transactions (its `entityKind`). */
  readonly session: string;
  /** How many statements the client runs at once, for the `batch` option; `undefined` when it cannot tell. */
  connections(client: unknown): number | undefined;
  /** How the client listens on `channel`; `undefined` when it cannot. */
  listener(client: unknown, channel: string): Listen | undefined;
}
