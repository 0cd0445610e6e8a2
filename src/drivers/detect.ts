import { entityKind } from "drizzle-orm";
import type { AnyPgDatabase, Driver } from "./contract.js";
import { nodePostgres } from "./node-postgres/driver.js";
import { pglite } from "./pglite/driver.js";
import { postgresJs } from "./postgres-js/driver.js";

const DRIVERS: readonly Driver[] = [postgresJs, nodePostgres, pglite];

/**
 * The driver under a Drizzle database or transaction, by the kind Drizzle gives its session;
 * `undefined` for a driver the store has no support for beyond Drizzle's own API (it then neither
 * batches nor watches).
 */
export function driverOf(db: AnyPgDatabase): Driver | undefined {
  const session = (db as unknown as { session?: { constructor?: Record<symbol, unknown> } }).session;
  const kind = session?.constructor?.[entityKind];
  return DRIVERS.find((driver) => driver.session === kind);
}
