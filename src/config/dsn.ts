import { StoreError } from "../core/errors.js";
import {
  defaultConfig,
  type PostgresConfig,
  SSL_MODES,
  type SslMode,
  serversOf,
  TARGET_SESSION_ATTRS,
  type TargetSessionAttrs,
  validateConfig,
} from "./config.js";
import { IGNORED_KEYWORDS } from "./ignored-keywords.js";

function dsnError(detail: string): StoreError {
  // The DSN itself is never quoted back: it may hold the password.
  return new StoreError("CONFIG", { op: "config" }, `invalid DSN: ${detail}`);
}

function wholeNumber(keyword: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw dsnError(
      `${keyword} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : min > 0 ? ` of at least ${min}` : ""}`,
    );
  }
  return Number(value);
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The error for a keyword neither the store nor libpq knows. A URL's parameter is named; in the
 * keyword/value form a keyword is named only when it is a near miss of one the store reads, as
 * anything else may be a piece of an unquoted password.
 */
function unknownKeyword(keyword: string, inUrl: boolean): StoreError {
  const meant =
    keyword === "ssl"
      ? "sslmode=require"
      : Object.keys(KEYWORDS).find((known) => distance(keyword, known) <= (inUrl ? 2 : 1));
  if (!inUrl && meant === undefined) {
    return dsnError(
      "it holds a keyword libpq does not know (not shown, as it may be part of a value: quote values with spaces)",
    );
  }
  return dsnError(
    `unknown ${inUrl ? "parameter" : "keyword"} ${keyword}${meant === undefined ? "" : `: did you mean ${meant}?`}`,
  );
}

function seconds(keyword: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw dsnError(`${keyword} must be a number of seconds`);
  return Number(value);
}

/**
 * The `host` and `port` a DSN gives, as libpq's comma-separated lists: paired once the whole DSN is
 * read, since either may come first.
 */
interface ServerLists {
  hosts?: string[];
  ports?: string[];
}

/**
 * Pairs the hosts with the ports, as libpq: one port for every host, or one per host. Several make
 * {@link PostgresConfig.hosts}; `host` and `port` are the first.
 */
function applyServers(config: PostgresConfig, { hosts, ports }: ServerLists): void {
  if (hosts === undefined && ports === undefined) return;
  const names = hosts ?? [config.host];
  const numbers = (ports ?? [String(config.port)]).map((port) => wholeNumber("port", port, 1, 65535));
  if (numbers.length !== 1 && numbers.length !== names.length) {
    throw dsnError(
      `port lists ${numbers.length} ports for ${names.length} hosts: give one port for every host, or one per host`,
    );
  }
  const servers = names.map((host, i) => ({ host, port: numbers[numbers.length === 1 ? 0 : i] ?? config.port }));
  if (servers.length > 1 && servers.some((server) => server.host === "")) {
    throw dsnError("host lists an empty name");
  }
  config.host = servers[0]?.host ?? config.host;
  config.port = servers[0]?.port ?? config.port;
  if (servers.length > 1) config.hosts = servers;
}

/**
 * The libpq keywords the store reads, and the config field each sets. `pool_*`,
 * `statement_timeout` and `lock_timeout` are this package's own, written by {@link toDsn}; the two
 * timeouts are in seconds, like `connect_timeout` (not in milliseconds, as PostgreSQL's settings
 * of those names and node-postgres take them).
 */
const KEYWORDS: Record<string, (config: PostgresConfig, value: string, keyword: string, lists: ServerLists) => void> = {
  host: (_config, value, _keyword, lists) => {
    lists.hosts = value.split(",");
  },
  port: (_config, value, _keyword, lists) => {
    lists.ports = value.split(",");
  },
  target_session_attrs: (config, value) => {
    if (!(TARGET_SESSION_ATTRS as readonly string[]).includes(value)) {
      throw dsnError(`target_session_attrs must be one of ${TARGET_SESSION_ATTRS.join(", ")}`);
    }
    config.targetSessionAttrs = value as TargetSessionAttrs;
  },
  user: (config, value) => {
    config.user = value;
  },
  password: (config, value) => {
    config.password = value;
  },
  dbname: (config, value) => {
    config.database = value;
  },
  sslmode: (config, value) => {
    // Empty is libpq's default, which the store reads as disable (see validateConfig).
    if (value !== "" && !(SSL_MODES as readonly string[]).includes(value)) {
      throw dsnError(
        `sslmode ${JSON.stringify(value)} is not one the store takes: ${SSL_MODES.join(", ")} ` +
          "(it never falls back to plain text, as prefer and allow do)",
      );
    }
    config.sslMode = value as SslMode;
  },
  sslrootcert: (config, value) => {
    config.sslRootCert = value;
  },
  sslcert: (config, value) => {
    config.sslCert = value;
  },
  sslkey: (config, value) => {
    config.sslKey = value;
  },
  connect_timeout: (config, value, keyword) => {
    config.connectTimeoutSeconds = wholeNumber(keyword, value, 1);
  },
  application_name: (config, value) => {
    config.applicationName = value;
  },
  pool_max: (config, value, keyword) => {
    config.max = wholeNumber(keyword, value, 1);
  },
  pool_idle_timeout: (config, value, keyword) => {
    config.idleTimeoutSeconds = wholeNumber(keyword, value);
  },
  pool_max_lifetime: (config, value, keyword) => {
    config.maxLifetimeSeconds = wholeNumber(keyword, value);
  },
  statement_timeout: (config, value, keyword) => {
    config.statementTimeoutSeconds = seconds(keyword, value);
  },
  lock_timeout: (config, value, keyword) => {
    config.lockTimeoutSeconds = seconds(keyword, value);
  },
};

/**
 * Sets the config field a keyword names; libpq's keywords the store has no use for are ignored, as
 * the Go store ignores them, and any other is refused.
 */
function applyKeyword(config: PostgresConfig, lists: ServerLists, keyword: string, value: string, inUrl = false): void {
  const apply = Object.hasOwn(KEYWORDS, keyword) ? KEYWORDS[keyword] : undefined;
  if (apply !== undefined) apply(config, value, keyword, lists);
  else if (!IGNORED_KEYWORDS.has(keyword)) throw unknownKeyword(keyword, inUrl);
}

const WHITESPACE = /\s/;

/** libpq's `keyword = value` form: values may be single-quoted, with `\'` and `\\` escapes. */
function parseKeywordValue(dsn: string, config: PostgresConfig, lists: ServerLists): void {
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
    applyKeyword(config, lists, keyword, value);
  }
}

/** A URL's scheme, its authority (user, password and hosts) and the rest. */
const URL_PARTS = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/is;

/** One server of a URL's authority: `host`, `host:port`, `[address]` or `[address]:port`. */
const URL_SERVER = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::(\d*))?$/;

/**
 * `postgres://user:password@host:port,host:port/database?sslmode=…`, percent-decoded. The hosts are
 * read here, as `URL` takes one only; parameters (`?host=…&port=…`) override them, as in libpq.
 */
function parseUrl(dsn: string, config: PostgresConfig, lists: ServerLists): void {
  const [, scheme = "", authority = "", rest = ""] = URL_PARTS.exec(dsn) ?? [];
  const at = authority.lastIndexOf("@");
  let url: URL;
  try {
    url = new URL(`${scheme}${authority.slice(0, at + 1)}hosts${rest}`);
  } catch {
    throw dsnError("not a valid postgres:// URL");
  }
  let decoded: { user: string; password: string; database: string; servers: { host: string; port: string }[] };
  try {
    const hostList = authority.slice(at + 1);
    decoded = {
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: decodeURIComponent(url.pathname.slice(1)),
      servers: (hostList === "" ? [] : hostList.split(",")).map((server) => {
        const match = URL_SERVER.exec(server);
        if (match === null) throw dsnError("a host of the URL is not host, host:port or [address]:port");
        return { host: decodeURIComponent(match[1] ?? match[2] ?? ""), port: match[3] ?? "" };
      }),
    };
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw dsnError("malformed percent-encoding");
  }
  if (decoded.servers.length > 1 || decoded.servers[0]?.host) lists.hosts = decoded.servers.map((s) => s.host);
  // A host without a port takes the default, as in libpq.
  const defaultPort = String(defaultConfig().port);
  if (decoded.servers.some((server) => server.port !== "")) {
    lists.ports = decoded.servers.map((server) => server.port || defaultPort);
  }
  if (decoded.user !== "") config.user = decoded.user;
  if (url.password !== "") config.password = decoded.password;
  if (decoded.database !== "") config.database = decoded.database;
  for (const [keyword, value] of url.searchParams) applyKeyword(config, lists, keyword, value, true);
}

/**
 * Parses a connection string over {@link defaultConfig}: libpq's keyword/value form
 * (`host=db port=5432 password='a b\'c'`) or a `postgres://` / `postgresql://` URL. A string without a password gives an empty one, which connecting turns into
 * `PGPASSWORD`, else the password file (`PGPASSFILE` or `~/.pgpass`), as libpq does: the Go store's
 * default password applies to config objects only. libpq's keywords the store has no use for are
 * ignored; any other is refused, as libpq refuses it. The result is validated; errors are `CONFIG`
 * and never quote the DSN.
 *
 * @example
 * const config = parseDsn("host=localhost port=5432 user=postgres password=secret dbname=workflow sslmode=disable");
 */
export function parseDsn(dsn: string): PostgresConfig {
  if (typeof dsn !== "string") throw dsnError("a DSN must be a string");
  const config: PostgresConfig = { ...defaultConfig(), password: "" };
  const lists: ServerLists = {};
  if (/^postgres(ql)?:\/\//i.test(dsn.trim())) parseUrl(dsn.trim(), config, lists);
  else parseKeywordValue(dsn, config, lists);
  applyServers(config, lists);
  return validateConfig(config);
}

function quoteValue(value: string): string {
  if (value !== "" && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * The libpq keyword/value string of a config (the Go store's `DSN()`), quoted where needed:
 * `parseDsn(toDsn(config))` gives `config` back. An empty password is left out, as libpq reads one
 * (`PGPASSWORD`, then the password file). Pool settings, when set, are written as
 * `pool_max`, `pool_idle_timeout` and `pool_max_lifetime`, and the timeouts as `statement_timeout`
 * and `lock_timeout` in seconds: keywords libpq itself does not know.
 */
export function toDsn(config: PostgresConfig): string {
  const c = validateConfig(config);
  const servers = serversOf(c);
  const pairs: [string, string | number | undefined][] = [
    ["host", servers.map((server) => server.host).join(",")],
    ["port", servers.map((server) => server.port).join(",")],
    ["target_session_attrs", c.targetSessionAttrs],
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
