import type { PostgresConfig } from "../../config/config.js";
import { resolveConfig } from "../../config/resolve.js";
import { checkAnswers } from "../check-answers.js";
import type { Connection } from "../contract.js";
import { openNodePostgresPool } from "./pool.js";

/** How long `close()` lets calls already in flight finish before it gives up on the pool. */
const CLOSE_GRACE_SECONDS = 5;

/**
 * Opens a node-postgres pool as a Drizzle database from a config (merged over
 * {@link defaultConfig}) or a DSN, and checks that a server answers (a `CONNECTION` error within
 * `connectTimeoutSeconds` if not): for a store over node-postgres (`createStoreWithDb(connection.db)`)
 * and the app's own queries. Needs the `pg` package.
 *
 * node-postgres takes one host: with several (`hosts`, or a DSN's `host=a,b`) or a
 * `targetSessionAttrs` other than `any`, the pool's connections walk the list as libpq does (see
 * hostWalkingClient), so that they follow a failover to the new primary. `close()` ends the pool,
 * waiting up to 5 s for queries already sent.
 *
 * @example
 * const connection = await connectNodePostgres("postgres://app@db1:5432,db2:5432/app?target_session_attrs=read-write");
 * const store = await createStoreWithDb(connection.db);
 * // …
 * await store.close();
 * await connection.close();
 */
export async function connectNodePostgres(config?: Partial<PostgresConfig> | string): Promise<Connection> {
  const resolved = resolveConfig(config);
  const opened = await openNodePostgresPool(resolved, "connectNodePostgres");
  await checkAnswers(opened.db, resolved, opened.end);
  return { db: opened.db, label: opened.label, close: () => opened.end(CLOSE_GRACE_SECONDS) };
}
