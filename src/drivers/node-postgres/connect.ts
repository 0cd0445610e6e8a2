import { defaultPoolSettings, describeServers, type PostgresConfig, serversOf } from "../../config/config.js";
import { resolvePassword } from "../../config/pgpass.js";
import { resolveConfig, sessionTimeouts } from "../../config/resolve.js";
import { tlsOptions } from "../../config/tls.js";
import { pause } from "../../core/pause.js";
import { checkAnswers } from "../check-answers.js";
import type { Connection } from "../contract.js";
import { importDriver } from "../import.js";
import { hostWalkingClient } from "./host-walk.js";

/** How long `close()` lets calls already in flight finish before it gives up on the pool. */
const CLOSE_GRACE_MS = 5000;

/** node-postgres's pool settings from a resolved config (its own `Client` class aside). */
function poolOptions(resolved: PostgresConfig) {
  const pool = { ...defaultPoolSettings, ...resolved };
  // Sent as the session's settings at login, so that 0 turns a role's timeout off.
  const settings = Object.entries(sessionTimeouts(resolved)).map(([name, ms]) => `-c ${name}=${ms}`);
  return {
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    database: resolved.database,
    // Asked for at each connection, so that a changed PGPASSWORD or password file applies. The
    // password file's line is the first server's, as node-postgres before 8.12 does not say which.
    password: () =>
      resolvePassword(resolved.password, {
        host: resolved.host,
        port: resolved.port,
        database: resolved.database,
        user: resolved.user,
      }),
    ssl: tlsOptions(resolved),
    max: pool.max,
    // node-postgres's 0 closes idle connections at once: the store's 0 keeps them, as postgres.js does.
    idleTimeoutMillis: pool.idleTimeoutSeconds === 0 ? undefined : pool.idleTimeoutSeconds * 1000,
    allowExitOnIdle: true,
    maxLifetimeSeconds: pool.maxLifetimeSeconds,
    connectionTimeoutMillis: pool.connectTimeoutSeconds * 1000,
    application_name: pool.applicationName,
    ...(settings.length > 0 && { options: settings.join(" ") }),
  };
}

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
  const [pg, { drizzle }] = await importDriver("pg", "connectNodePostgres", () =>
    Promise.all([import("pg"), import("drizzle-orm/node-postgres")]),
  );
  const options = poolOptions(resolved);
  const target = resolved.targetSessionAttrs ?? "any";
  const walking = resolved.hosts !== undefined || target !== "any";
  const Client = walking
    ? hostWalkingClient(pg.default.Client as never, serversOf(resolved), target, options.connectionTimeoutMillis)
    : pg.default.Client;
  // The walk and the connection after it are each bounded by the connect timeout.
  const pool = new pg.default.Pool({
    ...options,
    Client: Client as typeof pg.default.Client,
    connectionTimeoutMillis: walking ? 2 * options.connectionTimeoutMillis + 1000 : options.connectionTimeoutMillis,
  });
  // A connection lost while idle is the pool's to replace; without a listener, it would end the process.
  pool.on("error", () => {});
  const db = drizzle({ client: pool });
  const end = async (graceSeconds: number) => {
    await Promise.race([pool.end().catch(() => {}), pause(graceSeconds * 1000 + 1000)]);
  };
  await checkAnswers(db, resolved, end);
  return {
    db,
    label: `node-postgres ${resolved.user}@${describeServers(resolved)}/${resolved.database}`,
    close: () => end(CLOSE_GRACE_MS / 1000),
  };
}
