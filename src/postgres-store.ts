import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { defaultConfig, defaultPoolSettings, type PostgresConfig, validateConfig } from "./config.js";
import { parseDsn } from "./dsn.js";
import { StoreError } from "./errors.js";
import { migrate } from "./migrate.js";
import { resolveStoreOptions, type StoreOptions } from "./options.js";
import { DrizzleStore } from "./store.js";
import { translateError } from "./translate.js";
import type { Store } from "./types.js";

function readPem(field: "sslRootCert" | "sslCert" | "sslKey", path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new StoreError("CONFIG", { op: "config" }, `cannot read ${field} file ${JSON.stringify(path)}`, {
      cause: error,
    });
  }
}

/** libpq's sslmode as Node TLS options. */
export function tlsOptions(config: PostgresConfig): false | ConnectionOptions {
  if (config.sslMode === "disable") return false;
  const ca = readPem("sslRootCert", config.sslRootCert);
  const cert = readPem("sslCert", config.sslCert);
  const key = readPem("sslKey", config.sslKey);
  const files = { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
  switch (config.sslMode) {
    case "require":
      return { ...files, rejectUnauthorized: false };
    case "verify-ca":
      // The chain is checked; the name in the certificate is not.
      return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full":
      return { ...files, rejectUnauthorized: true, servername: config.host };
  }
}

function resolveConfig(config: Partial<PostgresConfig> | string | undefined): PostgresConfig {
  if (typeof config === "string") return parseDsn(config);
  return validateConfig({ ...defaultConfig(), ...config });
}

/**
 * Opens a postgres.js pool from a config (merged over {@link defaultConfig}) or a DSN, checks that
 * the server answers (a `CONNECTION` error within `connectTimeoutSeconds` if not), and runs
 * {@link migrate} unless `autoMigrate` is `false`. `close()` ends the pool.
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
  const resolved = resolveConfig(config);
  const storeOptions = resolveStoreOptions(options);
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
    // Notices such as "relation already exists, skipping" are expected, not for the console.
    onnotice: () => {},
  });
  const release = () => client.end({ timeout: 5 });
  const db = drizzle({ client });
  try {
    try {
      await db.execute(sql`select 1`);
    } catch (error) {
      throw translateError(error, { op: "connect" });
    }
    if (storeOptions.autoMigrate) await migrate(db);
  } catch (error) {
    await release();
    throw error;
  }
  const label = `postgres ${resolved.user}@${resolved.host}:${resolved.port}/${resolved.database}`;
  return new DrizzleStore(db, storeOptions, release, label);
}
