import { defaultConfig, type PostgresConfig, type SslMode, validateConfig } from "./config.js";
import { StoreError } from "./errors.js";

function dsnError(detail: string): StoreError {
  // The DSN itself is never quoted back: it may hold the password.
  return new StoreError("CONFIG", { op: "config" }, `invalid DSN: ${detail}`);
}

function wholeNumber(keyword: string, value: string): number {
  if (!/^\d+$/.test(value)) throw dsnError(`${keyword} must be a whole number`);
  return Number(value);
}

function seconds(keyword: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw dsnError(`${keyword} must be a number of seconds`);
  return Number(value);
}

/**
 * Sets the config field a libpq keyword names. Keywords the store has no use for are ignored, as
 * the original store ignores them; `pool_*`, `statement_timeout` and `lock_timeout` are this
 * package's own, written by {@link toDsn}. The two timeouts are in seconds, like `connect_timeout`
 * (not in milliseconds, as PostgreSQL's settings of those names and node-postgres take them).
 */
function applyKeyword(config: PostgresConfig, keyword: string, value: string): void {
  switch (keyword) {
    case "host":
      config.host = value;
      break;
    case "port":
      config.port = wholeNumber(keyword, value);
      break;
    case "user":
      config.user = value;
      break;
    case "password":
      config.password = value;
      break;
    case "dbname":
      config.database = value;
      break;
    case "sslmode":
      config.sslMode = value as SslMode;
      break;
    case "sslrootcert":
      config.sslRootCert = value;
      break;
    case "sslcert":
      config.sslCert = value;
      break;
    case "sslkey":
      config.sslKey = value;
      break;
    case "connect_timeout":
      config.connectTimeoutSeconds = wholeNumber(keyword, value);
      break;
    case "application_name":
      config.applicationName = value;
      break;
    case "pool_max":
      config.max = wholeNumber(keyword, value);
      break;
    case "pool_idle_timeout":
      config.idleTimeoutSeconds = wholeNumber(keyword, value);
      break;
    case "pool_max_lifetime":
      config.maxLifetimeSeconds = wholeNumber(keyword, value);
      break;
    case "statement_timeout":
      config.statementTimeoutSeconds = seconds(keyword, value);
      break;
    case "lock_timeout":
      config.lockTimeoutSeconds = seconds(keyword, value);
      break;
  }
}

const WHITESPACE = /\s/;

/** libpq's `keyword = value` form: values may be single-quoted, with `\'` and `\\` escapes. */
function parseKeywordValue(dsn: string, config: PostgresConfig): void {
  let i = 0;
  const skipWhitespace = () => {
    while (i < dsn.length && WHITESPACE.test(dsn.charAt(i))) i++;
  };
  for (skipWhitespace(); i < dsn.length; skipWhitespace()) {
    const start = i;
    while (i < dsn.length && dsn[i] !== "=" && !WHITESPACE.test(dsn.charAt(i))) i++;
    const keyword = dsn.slice(start, i);
    skipWhitespace();
    if (keyword === "" || dsn[i] !== "=") throw dsnError(`expected "keyword = value" at offset ${start}`);
    i++;
    skipWhitespace();
    const quoted = dsn[i] === "'";
    if (quoted) i++;
    let value = "";
    for (;;) {
      if (i >= dsn.length) {
        if (quoted) throw dsnError(`unterminated quoted value for ${keyword}`);
        break;
      }
      const char = dsn.charAt(i);
      if (quoted ? char === "'" : WHITESPACE.test(char)) {
        if (quoted) i++;
        break;
      }
      if (char === "\\" && i + 1 < dsn.length) i++;
      value += dsn.charAt(i);
      i++;
    }
    applyKeyword(config, keyword, value);
  }
}

/** `postgres://user:password@host:port/database?sslmode=…`, percent-decoded. */
function parseUrl(dsn: string, config: PostgresConfig): void {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw dsnError("not a valid postgres:// URL");
  }
  let decoded: { user: string; password: string; host: string; database: string };
  try {
    decoded = {
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      host: decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, "$1"),
      database: decodeURIComponent(url.pathname.slice(1)),
    };
  } catch {
    throw dsnError("malformed percent-encoding");
  }
  if (decoded.host !== "") config.host = decoded.host;
  if (url.port !== "") config.port = wholeNumber("port", url.port);
  if (decoded.user !== "") config.user = decoded.user;
  if (url.password !== "") config.password = decoded.password;
  if (decoded.database !== "") config.database = decoded.database;
  for (const [keyword, value] of url.searchParams) applyKeyword(config, keyword, value);
}

/**
 * Parses a connection string over {@link defaultConfig}: libpq's keyword/value form
 * (`host=db port=5432 password='a b\'c'`) or a `postgres://` / `postgresql://` URL. Unknown
 * keywords are ignored. A string without a password gives an empty one, which connecting turns into
 * `PGPASSWORD`, else the password file (`PGPASSFILE` or `~/.pgpass`), as libpq does: the Go store's
 * default password applies to config objects only. The result is validated; errors are `CONFIG`
 * and never quote the DSN.
 *
 * @example
 * const config = parseDsn("host=localhost port=5432 user=postgres password=secret dbname=workflow sslmode=disable");
 */
export function parseDsn(dsn: string): PostgresConfig {
  if (typeof dsn !== "string") throw dsnError("a DSN must be a string");
  const config: PostgresConfig = { ...defaultConfig(), password: "" };
  if (/^postgres(ql)?:\/\//i.test(dsn.trim())) parseUrl(dsn.trim(), config);
  else parseKeywordValue(dsn, config);
  return validateConfig(config);
}

function quoteValue(value: string): string {
  if (value !== "" && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * The libpq keyword/value string of a config (the original store's `DSN()`), quoted where needed:
 * `parseDsn(toDsn(config))` gives `config` back. An empty password is left out, as libpq reads one
 * (`PGPASSWORD`, then the password file). Pool settings, when set, are written as
 * `pool_max`, `pool_idle_timeout` and `pool_max_lifetime`, and the timeouts as `statement_timeout`
 * and `lock_timeout` in seconds: keywords libpq itself does not know.
 */
export function toDsn(config: PostgresConfig): string {
  const c = validateConfig(config);
  const pairs: [string, string | number | undefined][] = [
    ["host", c.host],
    ["port", c.port],
    ["user", c.user],
    ["password", c.password],
    ["dbname", c.database],
    ["sslmode", c.sslMode],
    ["sslrootcert", c.sslRootCert],
    ["sslcert", c.sslCert],
    ["sslkey", c.sslKey],
    ["connect_timeout", c.connectTimeoutSeconds],
    ["application_name", c.applicationName],
    ["pool_max", c.max],
    ["pool_idle_timeout", c.idleTimeoutSeconds],
    ["pool_max_lifetime", c.maxLifetimeSeconds],
    ["statement_timeout", c.statementTimeoutSeconds],
    ["lock_timeout", c.lockTimeoutSeconds],
  ];
  return pairs
    .filter((pair): pair is [string, string | number] => pair[1] !== undefined && pair[1] !== "")
    .map(([keyword, value]) => `${keyword}=${quoteValue(String(value))}`)
    .join(" ");
}
