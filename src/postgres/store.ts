import { StoreFront } from "../core/front.js";
import type { StoreOptions } from "../core/options.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { driverOf } from "../drivers/detect.js";
import { CHANGES_CHANNEL } from "../schema.js";
import { PostgresBackend } from "./backend.js";
import { batchedCalls } from "./batching.js";
import { Calls } from "./calls.js";
import { listeningOf } from "./changes.js";
import { once } from "./once.js";
import type { ReplicaSet } from "./replicas.js";
import { prepareQueries } from "./statements/prepare.js";

/** What a store learned of its database when it opened, beyond the options. */
export interface StoreSetup {
  /** Where reads with `consistency: "replica"` go. */
  replicas?: ReplicaSet | undefined;
  /** The table is hash-partitioned by prefix. */
  partitioned?: boolean;
}

/**
 * The {@link Store} over a Drizzle PostgreSQL database of any driver. Built by
 * {@link createStoreWithDb}, {@link createPostgresStore} and {@link createEmbeddedStore}.
 */
export class DrizzleStore extends StoreFront {
  /**
   * @param options resolved, as `resolveStoreOptions` returns them.
   * @param release closes what the store opened itself; absent when the database is the caller's.
   * @param label what `util.inspect` shows of the store (never a password).
   * @param connections how many statements the database runs at once, for the `batch` option;
   *   without it the store does not batch.
   * @param setup where reads with `consistency: "replica"` go (see `readReplicas`; closed with the
   *   store), and whether the table is partitioned (see `partitionTable`).
   */
  constructor(
    db: AnyPgDatabase,
    options: Readonly<Required<StoreOptions>>,
    release?: () => Promise<void>,
    label = "",
    connections?: number,
    { replicas, partitioned = false }: StoreSetup = {},
  ) {
    const settings = { schema: options.schema, prepare: options.prepare, partitioned };
    const queries = once(() => prepareQueries(db, settings));
    const batched =
      options.batch && connections !== undefined
        ? batchedCalls(queries(), connections, options.maxValueBytes)
        : undefined;
    const calls = new Calls(batched?.batching, undefined);
    const client = (db as { $client?: unknown }).$client;
    const listening = listeningOf(driverOf(db)?.listener(client, CHANGES_CHANNEL), queries, calls);
    super(new PostgresBackend({ db, settings, label, queries, calls, batched, listening, release, replicas, options }));
  }
}
