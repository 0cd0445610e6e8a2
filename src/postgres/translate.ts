import { type ErrorSite, StoreError, type StoreErrorCode } from "../core/errors.js";
import { TABLE_NAME } from "../schema.js";

// SQLSTATE codes and classes (PostgreSQL manual, appendix A) that mean the connection, not the
// query, failed.
const CONNECTION_EXCEPTION_CLASS = "08";
const INVALID_AUTHORIZATION_CLASS = "28";
const INSUFFICIENT_RESOURCES_TOO_MANY_CONNECTIONS = "53300";
const ADMIN_SHUTDOWN = "57P01";
const CRASH_SHUTDOWN = "57P02";
const CANNOT_CONNECT_NOW = "57P03";
const INVALID_CATALOG_NAME = "3D000";
// A write that reached a server taking none: a standby, or a primary that a failover is demoting.
// The next connection may reach the new primary, so it is the connection that failed.
const READ_ONLY_SQL_TRANSACTION = "25006";
const INSUFFICIENT_PRIVILEGE = "42501";
const UNDEFINED_TABLE = "42P01";
const INVALID_SCHEMA_NAME = "3F000";
// What `statement_timeout` and `lock_timeout` end a statement with.
const QUERY_CANCELED = "57014";
const LOCK_NOT_AVAILABLE = "55P03";
const DEADLOCK_DETECTED = "40P01";
const INVALID_SQL_STATEMENT_NAME = "26000";
const DUPLICATE_PREPARED_STATEMENT = "42P05";
const PROTOCOL_VIOLATION = "08P01";
// postgres.js 4's code for a message no PostgreSQL server sends.
const POSTGRES_JS_PROTOCOL_ERROR = "PROTOCOL_ERROR";
const INVALID_PASSWORD = "28P01";

const CONNECTION_SQLSTATES = new Set([
  INSUFFICIENT_RESOURCES_TOO_MANY_CONNECTIONS,
  ADMIN_SHUTDOWN,
  CRASH_SHUTDOWN,
  CANNOT_CONNECT_NOW,
  INVALID_CATALOG_NAME,
  READ_ONLY_SQL_TRANSACTION,
]);

// Error codes of Node's sockets and of postgres.js for a connection that failed or went away.
const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  POSTGRES_JS_PROTOCOL_ERROR,
]);

/**
 * node-postgres's errors for a connection that ended under a query (pg/lib/client.js), the one
 * case classified by message: they carry no code. A query sent just after the server closed the
 * connection, before node-postgres noticed, fails so instead of with the server's SQLSTATE.
 */
const NODE_POSTGRES_CONNECTION_ENDED = new Set(["Connection terminated unexpectedly", "Connection terminated"]);

interface CodedError {
  message: string;
  code?: unknown;
  cause?: unknown;
}

function isError(value: unknown): value is CodedError {
  return value instanceof Error;
}

/** The error the driver threw: Drizzle wraps it (`DrizzleQueryError`) with the SQL and the parameters. */
function driverError(error: unknown): CodedError | undefined {
  let current: unknown = error;
  let deepest: CodedError | undefined;
  for (let depth = 0; isError(current) && depth < 10; depth++) {
    if (typeof current.code === "string") return current;
    deepest = current;
    current = current.cause;
  }
  return deepest;
}

function isConnectionFailure(code: string): boolean {
  if (CONNECTION_ERROR_CODES.has(code) || CONNECTION_SQLSTATES.has(code)) return true;
  if (code.length !== 5) return false;
  return code.startsWith(CONNECTION_EXCEPTION_CLASS) || code.startsWith(INVALID_AUTHORIZATION_CLASS);
}

/**
 * The one place where a driver's error becomes a {@link StoreError}. Classification goes by
 * SQLSTATE or socket error code, never by message text (but for node-postgres's codeless lost
 * connection, {@link NODE_POSTGRES_CONNECTION_ENDED}). The message carries the driver's message
 * but not Drizzle's, which would repeat the bound parameters (the stored bytes among them).
 * Exported for queries of an app's own on the table, so their errors read like the store's.
 *
 * @example
 * try {
 *   await db.select().from(workflowStore);
 * } catch (error) {
 *   throw translateError(error, { op: "query" });
 * }
 */
export function translateError(error: unknown, site: ErrorSite): StoreError {
  if (error instanceof StoreError) return error;
  const cause = driverError(error);
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  let detail = cause === undefined ? String(error) : `${cause.message}${code === undefined ? "" : ` [${code}]`}`;
  let failure: StoreErrorCode = "QUERY";
  const connectionEnded =
    code === undefined && cause !== undefined && NODE_POSTGRES_CONNECTION_ENDED.has(cause.message);
  if (site.op === "connect" || connectionEnded || (code !== undefined && isConnectionFailure(code))) {
    failure = "CONNECTION";
  } else if (code === QUERY_CANCELED || code === LOCK_NOT_AVAILABLE) {
    failure = "TIMEOUT";
  } else if (code === INSUFFICIENT_PRIVILEGE) {
    failure = "PERMISSION";
  } else if (code === UNDEFINED_TABLE || code === INVALID_SCHEMA_NAME) {
    // The table went away after the store started (dropped by `drizzle-kit push`, say).
    failure = "SCHEMA";
    detail += `: the ${TABLE_NAME} table is missing; run \`workflow-store migrate\` to create it again`;
  } else if (code === INVALID_SQL_STATEMENT_NAME || code === DUPLICATE_PREPARED_STATEMENT) {
    // What a transaction-mode pooler does to named prepared statements.
    detail +=
      ": behind a transaction-mode pooler (PgBouncer before 1.21, Supavisor, …), create the store with prepare: false";
  }
  if (code === POSTGRES_JS_PROTOCOL_ERROR) {
    detail +=
      ": what answered does not speak PostgreSQL's protocol (an HTTP server or a proxy, say): check the host and port";
  }
  return new StoreError(failure, site, detail, { cause: withoutData(cause ?? error) });
}

// What a driver's error may say without repeating what was sent or stored: no SQL text, no bound
// parameters (postgres.js keeps them in hidden properties, Drizzle in `params`), no `detail`
// (PostgreSQL puts the failing row there, values included).
const SAFE_FIELDS = [
  "code",
  "severity",
  "hint",
  "position",
  "routine",
  "file",
  "line",
  "schema_name",
  "table_name",
  "column_name",
  "constraint_name",
  "errno",
  "syscall",
  "address",
  "port",
] as const;

/** A copy of a driver's error with only the fields that carry no stored data. */
function withoutData(error: unknown): unknown {
  if (!isError(error)) return error;
  const original = error as unknown as Error & Record<string, unknown>;
  const copy = new Error(original.message) as Error & Record<string, unknown>;
  copy.name = original.name;
  copy.stack = original.stack;
  for (const field of SAFE_FIELDS) {
    if (original[field] !== undefined) copy[field] = original[field];
  }
  return copy;
}

/** The SQLSTATE of a driver's error, where it has one. */
function sqlState(error: unknown): string | undefined {
  const code = driverError(error)?.code;
  return typeof code === "string" ? code : undefined;
}

/** PostgreSQL broke a deadlock by failing this statement (SQLSTATE 40P01); nothing of it took effect. */
export function isDeadlock(error: unknown): boolean {
  return sqlState(error) === DEADLOCK_DETECTED;
}

/**
 * Whether the server refused a login's password (28P01), or broke off its authentication exchange
 * (08P01, which is what a SCRAM login without a password gets).
 */
export function isPasswordRefused(error: unknown): boolean {
  const code = sqlState(error);
  return code === INVALID_PASSWORD || code === PROTOCOL_VIOLATION;
}

/** Whether an error is PostgreSQL's "permission denied" (42501). */
export function isPermissionDenied(error: unknown): boolean {
  return sqlState(error) === INSUFFICIENT_PRIVILEGE;
}
