import { defaultConfig, defaultPoolSettings, type PostgresConfig, validateConfig } from "../config/config.js";
import { parseDsn } from "../config/dsn.js";
import { StoreError } from "../core/errors.js";
import type { StoreOptions } from "../core/options.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { driverOf } from "../drivers/detect.js";
import { nodePostgres } from "../drivers/node-postgres/driver.js";
import { openNodePostgresPool } from "../drivers/node-postgres/pool.js";
import { pglite } from "../drivers/pglite/driver.js";
import { openPostgresPools } from "../drivers/postgres-js/pool.js";
import { once } from "./once.js";
import { type Replica, ReplicaSet } from "./replicas.js";
import { prepareQueries } from "./statements/prepare.js";

/**
 * A streaming standby of the store's database: a connection string or config (a config's fields
 * left out are the primary's where the store opened the primary from a config), or an app's own
 * Drizzle database on it.
 */
export type ReadReplica = string | Partial<PostgresConfig> | AnyPgDatabase;

/** The options of a store on PostgreSQL: {@link StoreOptions} and read replicas. */
export interface PostgresStoreOptions extends StoreOptions {
  /**
   * Streaming standbys that `keys`, `entries`, `keyStats`, `count` and `list` read from when the
   * call asks for `{ consistency: "replica" }`, in turn; every other call, and every call in a
   * transaction, stays on the primary. A standby that is down, fails the read, or is further
   * behind than `maxReplicaLagSeconds` is passed by, and the read goes to the primary. The store
   * opens a pool for each string or config (as postgres.js, or as node-postgres over a
   * node-postgres database), without connecting until the first such read, and closes it with
   * the store; an app's Drizzle database stays open.
   * @default [] (every read on the primary)
   */
  readReplicas?: readonly ReadReplica[];
  /** How far behind the primary a standby may be and still be read, in seconds. @default 5 */
  maxReplicaLagSeconds?: number;
}

const DEFAULT_MAX_LAG_SECONDS = 5;

/** The store's options and its table's layout, which a replica's statements are written for. */
type StoreLayout = Readonly<Required<StoreOptions>> & { partitioned: boolean };

function configError(detail: string): StoreError {
  return new StoreError("CONFIG", { op: "config" }, detail);
}

function isDatabase(entry: unknown): entry is AnyPgDatabase {
  return typeof (entry as { execute?: unknown } | null)?.execute === "function";
}

/** A replica's config: a DSN as it is, an object over the primary's config (or the defaults). */
function replicaConfig(entry: string | Partial<PostgresConfig>, primary: PostgresConfig | undefined): PostgresConfig {
  if (typeof entry === "string") return parseDsn(entry);
  // The primary's servers are not the standby's.
  const { hosts: _hosts, targetSessionAttrs: _target, ...base } = primary ?? defaultConfig();
  return validateConfig({ ...base, ...entry });
}

/** The read replicas of {@link PostgresStoreOptions}, checked: each a config or a Drizzle database. */
export interface ReplicaPlan {
  entries: readonly (PostgresConfig | AnyPgDatabase)[];
  maxLagMs: number;
}

/**
 * Checks `readReplicas` and `maxReplicaLagSeconds` before anything is opened or written (`CONFIG`
 * otherwise), resolving each string or config, over `primary` (the config the store opens its
 * primary from, if it does). `primaryDb` is the app's database, for `createStoreWithDb`.
 */
export function planReplicas(
  given: PostgresStoreOptions | undefined,
  { primary, primaryDb }: { primary?: PostgresConfig; primaryDb?: AnyPgDatabase },
): ReplicaPlan {
  const entries = given?.readReplicas ?? [];
  if (!Array.isArray(entries)) throw configError("readReplicas must be an array");
  const maxLag = given?.maxReplicaLagSeconds ?? DEFAULT_MAX_LAG_SECONDS;
  if (typeof maxLag !== "number" || !(maxLag >= 0) || !Number.isFinite(maxLag)) {
    throw configError("maxReplicaLagSeconds must be a number of seconds, 0 or more");
  }
  if (entries.length > 0 && primaryDb !== undefined && driverOf(primaryDb) === pglite) {
    throw configError("readReplicas needs a PostgreSQL server: an embedded database has no standbys");
  }
  return {
    entries: entries.map((entry: unknown) => {
      if (isDatabase(entry)) return entry;
      if (typeof entry !== "string" && (typeof entry !== "object" || entry === null)) {
        throw configError("each of readReplicas must be a connection string, a config or a Drizzle database");
      }
      return replicaConfig(entry as string | Partial<PostgresConfig>, primary);
    }),
    maxLagMs: maxLag * 1000,
  };
}

async function openReplica(
  entry: PostgresConfig | AnyPgDatabase,
  primaryDb: AnyPgDatabase,
  layout: StoreLayout,
): Promise<Replica & { timeoutMs: number }> {
  const settings = { schema: layout.schema, prepare: layout.prepare, partitioned: layout.partitioned };
  const queries = (db: AnyPgDatabase) => once(() => prepareQueries(db, settings));
  if (isDatabase(entry)) {
    return { db: entry, queries: queries(entry), timeoutMs: defaultPoolSettings.connectTimeoutSeconds * 1000 };
  }
  const opened =
    driverOf(primaryDb) === nodePostgres
      ? await openNodePostgresPool(entry, "readReplicas")
      : await openPostgresPools(entry, "readReplicas");
  const timeoutSeconds = entry.connectTimeoutSeconds ?? defaultPoolSettings.connectTimeoutSeconds;
  return { db: opened.db, queries: queries(opened.db), end: () => opened.end(1), timeoutMs: timeoutSeconds * 1000 };
}

/**
 * Opens the planned read replicas (no connection is made yet: a standby that is down does not
 * stop a store from starting); `undefined` when there are none.
 */
export async function openReplicas(
  primaryDb: AnyPgDatabase,
  plan: ReplicaPlan,
  layout: StoreLayout,
): Promise<ReplicaSet | undefined> {
  if (plan.entries.length === 0) return undefined;
  const opened: (Replica & { timeoutMs: number })[] = [];
  try {
    for (const entry of plan.entries) opened.push(await openReplica(entry, primaryDb, layout));
  } catch (error) {
    await Promise.all(opened.map((replica) => replica.end?.()));
    throw error;
  }
  const timeoutMs = Math.max(...opened.map((replica) => replica.timeoutMs));
  return new ReplicaSet(opened, primaryDb, plan.maxLagMs, timeoutMs);
}
