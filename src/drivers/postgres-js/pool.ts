import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  defaultPoolSettings,
  describeServers,
  type PostgresConfig,
  serversOf,
  type TargetSessionAttrs,
} from "../../config/config.js";
import { resolvePassword } from "../../config/pgpass.js";
import { sessionTimeouts } from "../../config/resolve.js";
import { tlsOptions } from "../../config/tls.js";
import { pause } from "../../core/pause.js";
import type { Connection } from "../contract.js";
import { importDriver } from "../import.js";

/**
 * Seconds to wait before connecting again after a connection attempt failed. postgres.js's own
 * backoff grows to 20 s, shared by the whole pool and reset only by a successful connection, and a
 * call waits that long before its attempt even starts, so a pool comes back long after a short
 * restart of the server. Capped at a second, with jitter, every call waits at most about a second more than
 * `connectTimeoutSeconds`.
 */
function reconnectDelaySeconds(failedAttempts: number): number {
  return Math.min(0.05 * 2 ** failedAttempts, 1) * (0.5 + Math.random() / 2);
}

/**
 * The major version of the postgres.js that `import("postgres")` loads, read from its package.json
 * beside the module (postgres.js exports no version); 4 when it cannot be read (a bundled app, say):
 * 4's settings are the ones that cannot stall a pool of either version.
 */
function postgresJsMajor(): Promise<number> {
  installedMajor ??= readPostgresJsMajor();
  return installedMajor;
}

let installedMajor: Promise<number> | undefined;

async function readPostgresJsMajor(): Promise<number> {
  try {
    let folder = dirname(fileURLToPath(import.meta.resolve("postgres")));
    for (let up = 0; up < 3; up++, folder = dirname(folder)) {
      const manifest = JSON.parse(await readFile(join(folder, "package.json"), "utf8").catch(() => "{}")) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === "postgres" && manifest.version !== undefined) {
        return Number.parseInt(manifest.version, 10);
      }
    }
  } catch {
    // Not resolvable as a file: fall through.
  }
  return 4;
}

export interface OpenedPostgres {
  db: Connection["db"];
  label: string;
  /** Connections of the pool single statements run on. */
  connections: number;
  /** Ends both pools, letting queries already sent finish for up to `graceSeconds`; always settles. */
  end(graceSeconds: number): Promise<void>;
}

/**
 * libpq's `target_session_attrs` as postgres.js takes it. postgres.js decides `read-write` by
 * `default_transaction_read_only` alone, and so takes a hot standby (PostgreSQL 14+ reports that
 * setting off there) for a server that takes writes: the store asks for `primary` instead, and a
 * write that meets a primary made read-only during a failover fails with `CONNECTION` (see
 * translateError). Its `read-only` is that setting alone too: a standby is what is meant.
 */
const POSTGRES_JS_TARGETS: Record<TargetSessionAttrs, "primary" | "standby" | "prefer-standby" | undefined> = {
  any: undefined,
  "read-write": "primary",
  primary: "primary",
  "read-only": "standby",
  standby: "standby",
  "prefer-standby": "prefer-standby",
};

/** The settings of the store's postgres.js pools, from a resolved config. */
function poolOptions(resolved: PostgresConfig) {
  const pool = { ...defaultPoolSettings, ...resolved };
  const servers = serversOf(resolved);
  return {
    // postgres.js takes lists as it takes one host: it tries them in order at each connection.
    // Both 3 and 4 read lists here; 3's types name one host and one port.
    host: servers.map((server) => server.host) as unknown as string,
    port: servers.map((server) => server.port) as unknown as number,
    target_session_attrs: POSTGRES_JS_TARGETS[resolved.targetSessionAttrs ?? "any"],
    user: resolved.user,
    // Asked for at each connection, so that a changed PGPASSWORD or password file applies.
    password: () =>
      resolvePassword(resolved.password, {
        host: resolved.host,
        port: resolved.port,
        database: resolved.database,
        user: resolved.user,
      }),
    database: resolved.database,
    ssl: tlsOptions(resolved),
    max: pool.max,
    idle_timeout: pool.idleTimeoutSeconds,
    max_lifetime: pool.maxLifetimeSeconds,
    connect_timeout: pool.connectTimeoutSeconds,
    backoff: reconnectDelaySeconds,
    connection: { application_name: pool.applicationName, ...sessionTimeouts(resolved) },
    // What the server says in passing is not for the app's console.
    onnotice: () => {},
    // postgres.js 3 reads the database's array types on each new connection, and a connection lost
    // during that read rejects where nothing handles it, which ends a Node process. The store's
    // statements send arrays as text (see arrayParameter); an app's own Drizzle array columns do too.
    fetch_types: false,
  };
}

/**
 * Opens the store's two postgres.js pools over a resolved config, as a Drizzle database; connects
 * nothing yet (see checkAnswers). `factory` names the call in the error for a missing package.
 */
export async function openPostgresPools(resolved: PostgresConfig, factory: string): Promise<OpenedPostgres> {
  const [{ default: postgres }, { drizzle }] = await importDriver("postgres", factory, () =>
    Promise.all([import("postgres"), import("drizzle-orm/postgres-js")]),
  );
  const options = poolOptions(resolved);
  // postgres.js sends up to 100 queries on a connection before the first is answered, and with
  // postgres.js 3 a connection that drops can leave some of them never settled (porsager/postgres#708,
  // #970): those routed to it between the socket's error and its close. With no query sent behind
  // another, none is left. postgres.js 4 counts max_pipeline as the queries in flight on a
  // connection, so 1 sends none behind another (and 0 would send nothing once every connection is
  // busy); postgres.js 3 counts those sent behind the first, so there it takes 0 (an option it
  // reads but does not document).
  const unpipelined = { ...options, max_pipeline: (await postgresJsMajor()) === 3 ? 0 : 1 };
  const statements = postgres(unpipelined);
  // That setting makes `begin` fail every time (porsager/postgres#1210), and with max_pipeline: 1 a
  // BEGIN sent behind another query goes out without reserving its connection (#1189): the
  // transaction fails with UNSAFE_TRANSACTION and later calls run inside it. A pool that runs only
  // transactions never has a connection busy with a query of no transaction, so its BEGIN always
  // finds the connection idle and reserves it.
  // Options in a variable, as above: postgres.js 3's types do not list max_pipeline.
  const transactional = { ...options, max_pipeline: 1 };
  const transactions = postgres(transactional);
  const client = new Proxy(statements, {
    get: (target, property, receiver) =>
      property === "begin" ? transactions.begin : Reflect.get(target, property, receiver),
  });
  const db = drizzle({ client });
  const end = async (graceSeconds: number) => {
    // end() may never resolve once a connection was lost (porsager/postgres#1097): bound it.
    const ended = Promise.all([statements.end({ timeout: graceSeconds }), transactions.end({ timeout: graceSeconds })]);
    await Promise.race([ended, pause(graceSeconds * 1000 + 1000)]);
  };
  // Drizzle makes postgres.js hand dates over as the server's text (see drizzle-orm/postgres-js);
  // the transactions pool reads and writes them the same way.
  Object.assign(transactions.options.parsers, statements.options.parsers);
  Object.assign(transactions.options.serializers, statements.options.serializers);
  return {
    db,
    end,
    connections: options.max,
    label: `postgres ${resolved.user}@${describeServers(resolved)}/${resolved.database}`,
  };
}
