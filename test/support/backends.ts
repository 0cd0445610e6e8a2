import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import pg from "pg";
import postgres from "postgres";
import { inject } from "vitest";
import { LOCK_FILE } from "../../src/drivers/pglite/data-dir-lock.js";
import {
  type AnyPgDatabase,
  createEmbeddedStore,
  createPostgresStore,
  createStoreWithDb,
  MemoryStore,
  pgliteByteaCodec,
  type Store,
  type StoreOptions,
} from "../../src/index.js";
import type { ConformanceTarget } from "../../src/testing/index.js";
import { TEST_TIME_ZONE } from "./global-setup.js";
import { copyNewDataDir, newPgliteInMemory } from "./pglite-template.js";

/** Options a test may ask a backend's store for. `max` is the pool size where there is a pool. */
export interface BackendOptions extends StoreOptions {
  max?: number;
}

/**
 * One way of running the store, as the conformance suite runs it. `skip` says why it cannot run
 * here; `db` is a second handle on the same database, for reading rows behind the store's back
 * (absent where there is none to have).
 */
export interface Backend extends ConformanceTarget {
  /** A single connection, or a pool whose size `max` sets: `list` must work with one. */
  create(options?: BackendOptions): Promise<Store>;
  /** Releases what the backend itself opened (clients, PGlite). */
  dispose(): Promise<void>;
}

const silent = { onnotice: () => {} };

function postgresSkip(): string | undefined {
  const reason = inject("postgresSkipReason");
  return inject("databaseUrl") === null ? reason : undefined;
}

function databaseUrl(): string {
  const url = inject("databaseUrl");
  if (url === null) throw new Error("no PostgreSQL for this backend");
  return url;
}

/** Collects what a backend opens so that `dispose` can close it. */
function closer() {
  const closers: (() => Promise<unknown>)[] = [];
  return {
    add<T>(resource: T, close: (resource: T) => Promise<unknown>): T {
      closers.push(() => close(resource));
      return resource;
    },
    async dispose() {
      for (const close of closers.splice(0).reverse()) await close();
    },
  };
}

function memoryBackend(): Backend {
  return {
    name: "MemoryStore",
    create: async ({ max: _max, ...options } = {}) => new MemoryStore(options),
    dispose: async () => {},
  };
}

function embeddedBackend(): Backend {
  const opened = closer();
  const folder = mkdtempSync(join(tmpdir(), "dws-conformance-"));
  const dataDirs: string[] = [];
  const claimed = new Set<string>();
  /**
   * A data directory no open store holds: one a closed store left, as an app opens its own again,
   * or else a copy of the run's new one (the store then migrates it). PGlite takes seconds to
   * create a database and a copy is tens of megabytes, and the suite opens a dozen stores, most of
   * them closed again within their case.
   */
  const freeDataDir = (): string => {
    let dataDir = dataDirs.find((each) => !claimed.has(each) && !existsSync(join(each, LOCK_FILE)));
    if (dataDir === undefined) {
      dataDir = copyNewDataDir(join(folder, `store-${dataDirs.length}`));
      dataDirs.push(dataDir);
    }
    claimed.add(dataDir);
    return dataDir;
  };
  return {
    name: "embedded PGlite (createEmbeddedStore)",
    create: async (options) => {
      const dataDir = freeDataDir();
      try {
        return opened.add(await createEmbeddedStore({ ...options, dataDir }), (store) => store.close());
      } finally {
        // Held by the store's lock file from here on, until it closes.
        claimed.delete(dataDir);
      }
    },
    dispose: async () => {
      await opened.dispose();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

function postgresJsBackend(): Backend {
  const opened = closer();
  let checker: AnyPgDatabase | undefined;
  return {
    name: "PostgreSQL via postgres.js (createPostgresStore)",
    skip: postgresSkip(),
    create: async ({ max, ...options } = {}) =>
      opened.add(await createPostgresStore(`${databaseUrl()}?pool_max=${max ?? 10}`, options), (store) =>
        store.close(),
      ),
    db: () => {
      checker ??= drizzlePostgresJs({
        client: opened.add(postgres(databaseUrl(), { ...silent, max: 2 }), (c) => c.end()),
      });
      return checker;
    },
    dispose: opened.dispose,
  };
}

function nodePostgresBackend(): Backend {
  const opened = closer();
  const pool = (max = 10) => opened.add(new pg.Pool({ connectionString: databaseUrl(), max }), (p) => p.end());
  let checker: AnyPgDatabase | undefined;
  return {
    name: "PostgreSQL via node-postgres (createStoreWithDb)",
    skip: postgresSkip(),
    create: async ({ max, ...options } = {}) => createStoreWithDb(drizzlePg({ client: pool(max) }), options),
    db: () => {
      checker ??= drizzlePg({ client: pool(2) });
      return checker;
    },
    dispose: opened.dispose,
  };
}

function pgliteBackend(): Backend {
  const opened = closer();
  let client: PGlite | undefined;
  // One PGlite per test file: it takes seconds to start. Its session runs in a far time zone.
  const shared = async () => {
    if (client === undefined) {
      // With the bytea codec the README gives apps that open PGlite themselves.
      client = opened.add(await newPgliteInMemory({ ...pgliteByteaCodec }), (c) => c.close());
      await client.exec(`set time zone '${TEST_TIME_ZONE}'`);
    }
    return drizzlePglite({ client });
  };
  let db: AnyPgDatabase | undefined;
  return {
    name: "PGlite via createStoreWithDb",
    create: async ({ max: _max, ...options } = {}) => {
      db = await shared();
      return createStoreWithDb(db, options);
    },
    db: () => {
      if (db === undefined) throw new Error("create a store first");
      return db;
    },
    dispose: opened.dispose,
  };
}

/**
 * The backends the conformance suite runs against, by the test file that runs them: three files of
 * about the same length, so that they run side by side (PGlite's are the slow ones).
 */
export const backends = {
  embedded: () => [embeddedBackend()],
  inMemory: () => [memoryBackend(), pgliteBackend()],
  onServer: () => [postgresJsBackend(), nodePostgresBackend()],
} satisfies Record<string, () => Backend[]>;
