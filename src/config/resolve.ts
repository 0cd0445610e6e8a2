import { defaultConfig, type PostgresConfig, validateConfig } from "./config.js";
import { parseDsn } from "./dsn.js";

/** What a factory was given, as a checked config: a DSN parsed, an object merged over {@link defaultConfig}. */
export function resolveConfig(config: Partial<PostgresConfig> | string | undefined): PostgresConfig {
  if (typeof config === "string") return parseDsn(config);
  return validateConfig({ ...defaultConfig(), ...config });
}

/** The session settings sent when connecting, in PostgreSQL's milliseconds; absent, the server's own apply. */
export function sessionTimeouts(config: PostgresConfig): Record<string, string> {
  const settings: Record<string, string> = {};
  if (config.statementTimeoutSeconds !== undefined) {
    settings.statement_timeout = String(Math.round(config.statementTimeoutSeconds * 1000));
  }
  if (config.lockTimeoutSeconds !== undefined) {
    settings.lock_timeout = String(Math.round(config.lockTimeoutSeconds * 1000));
  }
  return settings;
}
