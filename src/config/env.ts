import { StoreError } from "../core/errors.js";
import { defaultConfig, type PostgresConfig, validateConfig } from "./config.js";
import { parseDsn } from "./dsn.js";

/**
 * A config from the environment: `DATABASE_URL` when it is set (any form {@link parseDsn} takes),
 * otherwise `POSTGRES_HOST`, `POSTGRES_PORT`, `POSTGRES_USER`, `POSTGRES_PASSWORD` and
 * `POSTGRES_DB` over {@link defaultConfig}.
 *
 * @example
 * const store = await createPostgresStore(configFromEnv());
 */
export function configFromEnv(env: Record<string, string | undefined> = process.env): PostgresConfig {
  if (env.DATABASE_URL) return parseDsn(env.DATABASE_URL);
  const config = defaultConfig();
  if (env.POSTGRES_HOST) config.host = env.POSTGRES_HOST;
  if (env.POSTGRES_PORT) {
    if (!/^\d+$/.test(env.POSTGRES_PORT)) {
      throw new StoreError("CONFIG", { op: "config" }, "POSTGRES_PORT must be a whole number");
    }
    config.port = Number(env.POSTGRES_PORT);
  }
  if (env.POSTGRES_USER) config.user = env.POSTGRES_USER;
  if (env.POSTGRES_PASSWORD !== undefined) config.password = env.POSTGRES_PASSWORD;
  if (env.POSTGRES_DB) config.database = env.POSTGRES_DB;
  return validateConfig(config);
}
