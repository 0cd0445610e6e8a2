import { defaultPoolSettings, describeServers, type PostgresConfig, serversOf } from "../../config/config.js";
import { resolvePassword } from "../../config/pgpass.js";
import { sessionTimeouts } from "../../config/resolve.js";
import { tlsOptions } from "../../config/tls.js";
import { pause } from "../../core/pause.js";
import type { Connection } from "../contract.js";
import { importDriver } from "../import.js";
import { hostWalkingClient } from "./host-walk.js";

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
    // Asked for at each connection, so that a changed PGPASSWORD or password file applies, for the
    // server it goes to where node-postgres says which (8.23 does; 8.11 does not: the first server).
    password: (server?: { host?: string; port?: number }) =>
      resolvePassword(resolved.password, {
        host: server?.host ?? resolved.host,
        port: server?.port ?? resolved.port,
        database: resolved.database,
        user: resolved.user,
      }),
    ssl: tlsOptions(resolved),
    max: pool.max,
    // 0 keeps idle connections, in node-postgres as in postgres.js (left out, node-postgres closes them after 10 s).
    idleTimeoutMillis: pool.idleTimeoutSeconds * 1000,
    allowExitOnIdle: true,
    maxLifetimeSeconds: pool.maxLifetimeSeconds,
    connectionTimeoutMillis: pool.connectTimeoutSeconds * 1000,
    application_name: pool.applicationName,
    ...(settings.length > 0 && { options: settings.join(" ") }),
  };
}

/** A node-postgres pool the package opened, as a Drizzle database. */
interface OpenedNodePostgres {
  db: Connection["db"];
  label: string;
  /** Ends the pool, letting queries already sent finish for up to `graceSeconds`; always settles. */
  end(graceSeconds: number): Promise<void>;
}

/**
 * Opens a node-postgres pool over a resolved config, as a Drizzle database; connects nothing yet
 * (see checkAnswers). With several hosts, or a `targetSessionAttrs` other than `any`, its
 * connections walk the list (see hostWalkingClient). `factory` names the call in the error for a
 * missing package.
 */
export async function openNodePostgresPool(resolved: PostgresConfig, factory: string): Promise<OpenedNodePostgres> {
  const [pg, { drizzle }] = await importDriver("pg", factory, () =>
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
  return {
    db: drizzle({ client: pool }),
    label: `node-postgres ${resolved.user}@${describeServers(resolved)}/${resolved.database}`,
    end: async (graceSeconds) => {
      await Promise.race([pool.end().catch(() => {}), pause(graceSeconds * 1000 + 1000)]);
    },
  };
}
