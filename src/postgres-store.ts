import { sql } from "drizzle-orm";
import { defaultConfig, defaultPoolSettings, type PostgresConfig, validateConfig } from "./config.js";
import { importDriver } from "./drivers.js";
import { parseDsn } from "./dsn.js";
import { StoreError } from "./errors.js";
import { resolveStoreOptions, type StoreOptions } from "./options.js";
import { openStore } from "./store.js";
import { tlsOptions } from "./tls.js";
import { translateError } from "./translate.js";
import type { Connection, Store } from "./types.js";

function resolveConfig(config: Partial<PostgresConfig> | string | undefined): PostgresConfig {
  if (typeof config === "string") return parseDsn(config);
  return validateConfig({ ...defaultConfig(), ...config });
}

/**
 * Opens a postgres.js pool as a Drizzle database from a config (merged over {@link defaultConfig})
 * or a DSN, and checks that the server answers (a `CONNECTION` error within
 * `connectTimeoutSeconds` if not). For {@link migrate}, {@link migrationStatus} and queries of your
 * own on the table; {@link createPostgresStore} builds a store the same way. Needs the `postgres`
 * package.
 *
 * @example
 * const connection = await connectPostgres(process.env.DATABASE_URL);
 * try {
 *   await migrate(connection.db);
 * } finally {
 *   await connection.close();
 * }
 */
export async function connectPostgres(config?: Partial<PostgresConfig> | string): Promise<Connection> {
  const resolved = resolveConfig(config);
  const [{ default: postgres }, { drizzle }] = await importDriver("postgres", "connectPostgres", () =>
    Promise.all([import("postgres"), import("drizzle-orm/postgres-js")]),
  );
  const pool = { ...defaultPoolSettings, ...resolved };
  const client = postgres({
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    password: resolved.password,
    database: resolved.database,
    ssl: tlsOptions(resolved),
    max: pool.max,
    idle_timeout: pool.idleTimeoutSeconds,
    max_lifetime: pool.maxLifetimeSeconds,
    connect_timeout: pool.connectTimeoutSeconds,
    connection: { application_name: pool.applicationName },
    // What the server says in passing is not for the app's console.
    onnotice: () => {},
  });
  const close = () => client.end({ timeout: 5 });
  const db = drizzle({ client });
  // postgres.js bounds each attempt, not the whole: a port that answers with something other than
  // PostgreSQL (an HTTP proxy, say) makes it try again without end. The check gets one deadline.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StoreError(
            "CONNECTION",
            { op: "connect" },
            `no PostgreSQL answered at ${resolved.host}:${resolved.port} within ${pool.connectTimeoutSeconds} s`,
          ),
        ),
      pool.connectTimeoutSeconds * 1000,
    );
  });
  try {
    await Promise.race([db.execute(sql`select 1`), deadline]);
  } catch (error) {
    // A client stuck in its connect loop may never finish ending (porsager/postgres#1097).
    await Promise.race([client.end({ timeout: 0 }), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    throw translateError(error, { op: "connect" });
  } finally {
    clearTimeout(timer);
  }
  return { db, close, label: `postgres ${resolved.user}@${resolved.host}:${resolved.port}/${resolved.database}` };
}

/**
 * A store on its own postgres.js pool, opened by {@link connectPostgres}; runs {@link migrate}
 * unless `autoMigrate` is `false`, in which case the table must already be there. `close()` ends
 * the pool.
 *
 * @example
 * const store = await createPostgresStore({ host: "localhost", password: "secret", database: "workflow" });
 * await store.set("runs/42", "plan", Buffer.from("…"));
 * await store.close();
 */
export async function createPostgresStore(
  config?: Partial<PostgresConfig> | string,
  options?: StoreOptions,
): Promise<Store> {
  const storeOptions = resolveStoreOptions(options);
  const connection = await connectPostgres(config);
  return openStore(connection.db, storeOptions, connection.close, connection.label);
}
