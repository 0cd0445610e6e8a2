import { inspect } from "node:util";
import { StoreError } from "../core/errors.js";

/** The TLS modes of the Go store, with libpq's meaning. */
export const SSL_MODES = ["disable", "require", "verify-ca", "verify-full"] as const;

/**
 * How TLS is used: `disable` none; `require` TLS without checking the certificate; `verify-ca`
 * the chain is checked against `sslRootCert` but not the host name; `verify-full` chain and host name.
 */
export type SslMode = (typeof SSL_MODES)[number];

/** One server of a list that {@link PostgresConfig.hosts} holds. */
export interface PostgresHost {
  host: string;
  port: number;
}

/** libpq's `target_session_attrs`: which of several servers a connection takes. */
export const TARGET_SESSION_ATTRS = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"] as const;

/**
 * Which server of {@link PostgresConfig.hosts} a connection takes, as libpq: `any` the first that
 * answers; `read-write` one that takes writes (no hot standby, `default_transaction_read_only`
 * off); `primary` one that is not a hot standby; `standby` a hot standby; `prefer-standby` a
 * standby if one answers, else any; `read-only` a server that takes no writes.
 */
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

/** Connection settings for {@link createPostgresStore}: the Go store's `Config`, plus the pool. */
export interface PostgresConfig {
  /** The server's host name or address; with {@link hosts}, the first of them. */
  host: string;
  /** The server's port; with {@link hosts}, the first server's. */
  port: number;
  /**
   * Servers to try in order at each new connection, for a primary with standbys (libpq's
   * `host=db1,db2 port=5432,5433`, or `postgres://db1:5432,db2:5433/…`); `host` and `port` are then
   * the first of them. With `targetSessionAttrs: "read-write"` a connection skips the servers that
   * take no writes, so the store follows a failover (see the README's "Past one machine").
   * A list of one is the same as `host` and `port`. @default undefined (host:port only)
   */
  hosts?: readonly PostgresHost[];
  /** Which server a connection takes (libpq's `target_session_attrs`). @default "any" */
  targetSessionAttrs?: TargetSessionAttrs;
  user: string;
  /**
   * Empty: none given, and connecting uses `PGPASSWORD`, else the password file (`PGPASSFILE` or
   * `~/.pgpass`), as libpq does. {@link defaultConfig} has the Go store's default, `postgres`.
   */
  password: string;
  database: string;
  sslMode: SslMode;
  /** Path of the PEM file with the certificate authorities to trust (libpq's `sslrootcert`). */
  sslRootCert?: string;
  /** Path of the PEM client certificate (libpq's `sslcert`). */
  sslCert?: string;
  /** Path of the PEM client key (libpq's `sslkey`). */
  sslKey?: string;
  /**
   * Most connections the pool opens. {@link createPostgresStore} and {@link connectPostgres} run
   * transactions on a second pool of this size, which opens connections only when transactions run.
   * @default 10
   */
  max?: number;
  /** Seconds an idle connection stays open; 0 keeps it. @default 0 */
  idleTimeoutSeconds?: number;
  /** Seconds after which a connection is closed and replaced; 0 never. @default 1800 */
  maxLifetimeSeconds?: number;
  /** Seconds to wait for a connection before failing with `CONNECTION`. @default 10 */
  connectTimeoutSeconds?: number;
  /** Shown in `pg_stat_activity.application_name`. @default "drizzle-workflow-store" */
  applicationName?: string;
  /**
   * Seconds a statement may run before the server cancels it and the call fails with `TIMEOUT`
   * (PostgreSQL's `statement_timeout`, sent when connecting); fractions allowed, to the millisecond.
   * Left out, the server's own setting applies, which is off unless the database or role sets one;
   * `0` turns it off over such a setting.
   * @default undefined (the server's setting)
   */
  statementTimeoutSeconds?: number;
  /**
   * Seconds a statement may wait for a lock (a row another transaction is writing, say) before the
   * server cancels it and the call fails with `TIMEOUT` (PostgreSQL's `lock_timeout`); `0` turns it
   * off over a setting of the database or role.
   * @default undefined (the server's setting)
   */
  lockTimeoutSeconds?: number;
}

/** The pool settings used where {@link PostgresConfig} leaves them out. */
export const defaultPoolSettings = Object.freeze({
  max: 10,
  idleTimeoutSeconds: 0,
  maxLifetimeSeconds: 1800,
  connectTimeoutSeconds: 10,
  applicationName: "drizzle-workflow-store",
});

const REDACTED = "[redacted]";

/**
 * Gives a config a `toJSON` and a `util.inspect` view without its password, so that logging it
 * never leaks the secret. Both are non-enumerable: spreading or comparing the config ignores them.
 */
function redactPassword<T extends { password: string }>(config: T): T {
  const shown = () => ({ ...config, password: config.password === "" ? "" : REDACTED });
  Object.defineProperty(config, "toJSON", { value: shown, enumerable: false });
  Object.defineProperty(config, inspect.custom, {
    value: (_depth: number, options: object) => inspect(shown(), options),
    enumerable: false,
  });
  return config;
}

/**
 * The Go store's defaults: `localhost:5432`, user and password `postgres`, database `workflow`, no
 * TLS. A partial config given to a factory is merged over them, so its password is `postgres`
 * unless it sets one (an empty one means libpq's `PGPASSWORD`, then the password file).
 */
export function defaultConfig(): PostgresConfig {
  return redactPassword({
    host: "localhost",
    port: 5432,
    user: "postgres",
    password: "postgres",
    database: "workflow",
    sslMode: "disable",
  });
}

function configError(detail: string): StoreError {
  return new StoreError("CONFIG", { op: "config" }, detail);
}

function requireText(name: string, value: unknown, allowEmpty = false): string {
  if (typeof value !== "string" || (!allowEmpty && value === "")) {
    throw configError(`${name} must be a${allowEmpty ? "" : " non-empty"} string`);
  }
  return value;
}

function optionalWholeNumber(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw configError(`${name} must be a whole number of at least ${min}`);
  }
  return value;
}

/** PostgreSQL keeps these settings in milliseconds, in a 32-bit integer. */
const MAX_TIMEOUT_SECONDS = 2_147_483.647;

function optionalTimeoutSeconds(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const inRange = value === 0 || (typeof value === "number" && value >= 0.001 && value <= MAX_TIMEOUT_SECONDS);
  if (!inRange) {
    throw configError(`${name} must be 0 (off) or a number of seconds from 0.001 to ${MAX_TIMEOUT_SECONDS}`);
  }
  return value;
}

function validPort(name: string, port: unknown): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw configError(`${name} must be a whole number from 1 to 65535`);
  }
  return port;
}

/** A host name or address: never a comma, which separates the servers of a DSN's list. */
function hostName(name: string, value: unknown): string {
  const host = requireText(name, value);
  if (host.includes(",")) throw configError(`${name} must be one host, without commas: list several in hosts`);
  return host;
}

/** The list of {@link PostgresConfig.hosts}, checked; `undefined` when there is none. */
function validHosts(hosts: unknown): PostgresHost[] | undefined {
  if (hosts === undefined) return undefined;
  if (!Array.isArray(hosts) || hosts.length === 0) throw configError("hosts must be a non-empty array");
  const checked = hosts.map((server: unknown, i) => {
    if (typeof server !== "object" || server === null) throw configError(`hosts[${i}] must be { host, port }`);
    const { host, port } = server as Partial<PostgresHost>;
    return { host: hostName(`hosts[${i}].host`, host), port: validPort(`hosts[${i}].port`, port) };
  });
  return checked;
}

/** The servers a config connects to, in order: {@link PostgresConfig.hosts}, else `host:port`. */
export function serversOf(config: PostgresConfig): readonly PostgresHost[] {
  return config.hosts ?? [{ host: config.host, port: config.port }];
}

/** A server as `host:port` (`[address]:port` for IPv6), for messages. */
export function describeServer({ host, port }: PostgresHost): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The servers as `host:port,host:port`, for messages. */
export function describeServers(config: PostgresConfig): string {
  return serversOf(config).map(describeServer).join(",");
}

function optionalText(name: string, value: unknown): string | undefined {
  return value === undefined ? undefined : requireText(name, value);
}

/**
 * Checks a config and returns it normalized: an empty `sslMode` becomes `disable`, fields left
 * `undefined` are dropped. Throws `StoreError` with code `CONFIG`, whose message never shows the password.
 *
 * @example
 * const config = validateConfig({ ...defaultConfig(), host: "db.internal", sslMode: "verify-full" });
 */
export function validateConfig(config: PostgresConfig): PostgresConfig {
  if (typeof config !== "object" || config === null) throw configError("config must be an object");
  const servers = validHosts(config.hosts);
  const first = servers?.[0];
  // A list of one is host and port.
  const hosts = servers !== undefined && servers.length > 1 ? servers : undefined;
  const port = first?.port ?? validPort("port", config.port);
  const targetSessionAttrs = config.targetSessionAttrs;
  if (targetSessionAttrs !== undefined && !(TARGET_SESSION_ATTRS as readonly string[]).includes(targetSessionAttrs)) {
    throw configError(`targetSessionAttrs must be one of ${TARGET_SESSION_ATTRS.join(", ")}`);
  }
  const sslMode = (config.sslMode as string | undefined) || "disable";
  if (!(SSL_MODES as readonly string[]).includes(sslMode)) {
    throw configError(`sslMode must be one of ${SSL_MODES.join(", ")}`);
  }
  const optional = {
    hosts,
    targetSessionAttrs,
    sslRootCert: optionalText("sslRootCert", config.sslRootCert),
    sslCert: optionalText("sslCert", config.sslCert),
    sslKey: optionalText("sslKey", config.sslKey),
    max: optionalWholeNumber("max", config.max, 1),
    idleTimeoutSeconds: optionalWholeNumber("idleTimeoutSeconds", config.idleTimeoutSeconds, 0),
    maxLifetimeSeconds: optionalWholeNumber("maxLifetimeSeconds", config.maxLifetimeSeconds, 0),
    connectTimeoutSeconds: optionalWholeNumber("connectTimeoutSeconds", config.connectTimeoutSeconds, 1),
    applicationName: optionalText("applicationName", config.applicationName),
    statementTimeoutSeconds: optionalTimeoutSeconds("statementTimeoutSeconds", config.statementTimeoutSeconds),
    lockTimeoutSeconds: optionalTimeoutSeconds("lockTimeoutSeconds", config.lockTimeoutSeconds),
  };
  const normalized: PostgresConfig = {
    host: first?.host ?? hostName("host", config.host),
    port,
    user: requireText("user", config.user),
    password: requireText("password", config.password, true),
    database: requireText("database", config.database),
    sslMode: sslMode as SslMode,
  };
  for (const [name, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(normalized, { [name]: value });
  }
  return redactPassword(normalized);
}
