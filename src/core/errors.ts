/** What went wrong, as a string a caller can switch on. */
export type StoreErrorCode =
  /** The call's arguments are wrong; nothing was sent to the database. */
  | "INVALID_ARGUMENT"
  /** The configuration or options are wrong; nothing was opened. */
  | "CONFIG"
  /** The database could not be reached, refused the login, or dropped the connection. */
  | "CONNECTION"
  /** The database answered the query with an error. */
  | "QUERY"
  /**
   * The server cancelled the statement: it ran past `statementTimeoutSeconds` (SQLSTATE 57014, also
   * what `pg_cancel_backend` gives) or waited past `lockTimeoutSeconds` for a lock (55P03). Nothing
   * of the statement took effect; the store stays usable.
   */
  | "TIMEOUT"
  /** The database role lacks a privilege the call needs; the message names it. */
  | "PERMISSION"
  /** The table or a migration it needs is missing; the message says what to run. */
  | "SCHEMA"
  /** The store was closed before the call. */
  | "CLOSED"
  /**
   * A compare-and-set found another revision than the one it was given (`setIf`, `removeIf`), or a
   * lease is no longer its holder's (`renew`). {@link StoreError.revision} holds the row's current
   * revision, or `undefined` when there is no row. Nothing was written.
   */
  | "CONFLICT"
  /**
   * A watch asked to resume from a revision whose removes the change log no longer holds (they
   * were older than its retention). List the prefix again and watch from the revision it gave.
   */
  | "COMPACTED";

/** The store operation a {@link StoreError} concerns. */
export type StoreOperation =
  | "get"
  | "set"
  | "remove"
  | "list"
  | "keys"
  | "entries"
  | "keyStats"
  | "prefixStats"
  | "getMany"
  | "setMany"
  | "removeMany"
  | "removePrefix"
  | "count"
  | "has"
  | "transaction"
  | "purge"
  | "getWithRevision"
  | "setIf"
  | "removeIf"
  | "update"
  | "watch"
  | "acquireLease"
  | "renewLease"
  | "releaseLease"
  | "close"
  | "connect"
  /** A query of the caller's own, translated with {@link translateError}. */
  | "query"
  | "migrate"
  | "config";

/** Where an error happened: the operation and the prefix and key it concerned. */
export interface ErrorSite {
  op: StoreOperation;
  prefix?: string | undefined;
  key?: string | undefined;
}

/**
 * The one error type the package throws. `code` says what kind of failure it is, `op`, `prefix` and
 * `key` where it happened, and `cause` holds the driver's own error where there is one. Messages
 * never contain a password.
 *
 * @example
 * try {
 *   await store.set("runs/1", "plan", bytes);
 * } catch (error) {
 *   if (error instanceof StoreError && error.code === "CONNECTION") retryLater();
 *   else throw error;
 * }
 */
export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;
  readonly op: StoreOperation;
  readonly prefix: string | undefined;
  readonly key: string | undefined;
  /**
   * With `CONFLICT`: the row's current revision, `undefined` when there is no row. With
   * `COMPACTED`: the oldest revision a watch can resume from.
   */
  readonly revision: number | undefined;
  /** What went wrong, without the operation and the prefix and key the message starts with. */
  readonly detail: string;

  constructor(
    code: StoreErrorCode,
    site: ErrorSite,
    detail: string,
    options?: { cause?: unknown; revision?: number | undefined },
  ) {
    super(`${describeSite(site)}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.op = site.op;
    this.prefix = site.prefix;
    this.key = site.key;
    this.revision = options?.revision;
    this.detail = detail;
  }
}

const SHOWN_CHARACTERS = 80;

function quote(value: string): string {
  const shown = value.length > SHOWN_CHARACTERS ? `${value.slice(0, SHOWN_CHARACTERS)}…` : value;
  return JSON.stringify(shown);
}

function describeSite({ op, prefix, key }: ErrorSite): string {
  const where: string[] = [];
  if (typeof prefix === "string") where.push(`prefix ${quote(prefix)}`);
  if (typeof key === "string") where.push(`key ${quote(key)}`);
  return `workflow store ${op}${where.length > 0 ? ` (${where.join(", ")})` : ""}`;
}

/** The `CONFLICT` of a compare-and-set that found the row at another revision, or no row. */
export function conflict(site: ErrorSite, expected: number, current: number | null | undefined): StoreError {
  const found = current == null ? "there is no row" : `the row is at revision ${current}`;
  return new StoreError(
    "CONFLICT",
    site,
    `expected revision ${expected === 0 ? "0 (no row)" : expected}, but ${found}`,
    {
      revision: current ?? undefined,
    },
  );
}
