import type { PostgresConfig } from "../../config/config.js";
import { resolveConfig } from "../../config/resolve.js";
import { resolveStoreOptions } from "../../core/options.js";
import type { Store } from "../../core/types.js";
import { openStore } from "../../postgres/open.js";
import { type PostgresStoreOptions, planReplicas } from "../../postgres/replica-options.js";
import { checkAnswers } from "../check-answers.js";
import type { Connection } from "../contract.js";
import { type OpenedPostgres, openPostgresPools } from "./pool.js";

/**
 * Opens a postgres.js pool as a Drizzle database from a config (merged over {@link defaultConfig})
 * or a DSN, and checks that the server answers (a `CONNECTION` error within
 * `connectTimeoutSeconds` if not). For {@link migrate}, {@link migrationStatus} and queries of your
 * own on the table; {@link createPostgresStore} builds a store the same way. Needs the `postgres`
 * package.
 *
 * The pool is set up to survive lost connections (see the README's "Faults"): no query is pipelined
 * behind another, reconnecting waits at most a second, and transactions run on a second pool of
 * the same size, opened when the first transaction starts. `close()` waits up to 5 s for queries
 * already sent, then ends the connections.
 *
 * @example
 * const connection = await connectPostgres(process.env.DATABASE_URL);
 * try {
 *   await migrate(connection.db);
 * } finally {
 *   await connection.close();
 * }
 */
export async function connectPostgres(config?: Partial<PostgresConfig> | string): Promise<Connection> {
  const opened = await openPostgres(resolveConfig(config));
  return { db: opened.db, label: opened.label, close: () => opened.end(CLOSE_GRACE_SECONDS) };
}

/** How long `close()` lets calls already in flight finish before it ends the connections. */
const CLOSE_GRACE_SECONDS = 5;

/** The store's pools over a resolved config, once a server answered. */
async function openPostgres(resolved: PostgresConfig): Promise<OpenedPostgres> {
  const opened = await openPostgresPools(resolved, "connectPostgres");
  await checkAnswers(opened.db, resolved, opened.end);
  return opened;
}

/**
 * A store on its own postgres.js pool, opened by {@link connectPostgres}; runs {@link migrate}
 * unless `autoMigrate` is `false`, in which case the table must already be there. `close()` lets
 * the calls in flight finish for up to 5 s, then ends the pool (failing what is left with
 * `CONNECTION`); it always returns.
 *
 * @example
 * const store = await createPostgresStore({ host: "localhost", password: "secret", database: "workflow" });
 * await store.set("runs/42", "plan", Buffer.from("…"));
 * await store.close();
 */
export async function createPostgresStore(
  config?: Partial<PostgresConfig> | string,
  options?: PostgresStoreOptions,
): Promise<Store> {
  const storeOptions = resolveStoreOptions(options);
  const resolved = resolveConfig(config);
  // A replica's fields left out of its config are the primary's.
  const replicas = planReplicas(options, { primary: resolved });
  const opened = await openPostgres(resolved);
  // The store lets its calls finish first (see DrizzleStore.close), so ending the pool waits only
  // for its connections to close, and for a call that hung past that grace, a second at most.
  return openStore(opened.db, storeOptions, {
    release: () => opened.end(1),
    label: opened.label,
    connections: opened.connections,
    replicas,
  });
}
