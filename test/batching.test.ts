import { randomUUID } from "node:crypto";
import type { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzleNodePostgres } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveStoreOptions } from "../src/core/options.js";
import {
  type Connection,
  connectEmbedded,
  createPostgresStore,
  createStoreWithDb,
  parseDsn,
  type Store,
  StoreError,
} from "../src/index.js";
import { openStore } from "../src/postgres/open.js";
import { databaseUrl, skipReason } from "./support/postgres.js";

const CALLERS = 32;

/** Runs SQL beside the store, on its database. */
type Sql = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** Each call's outcome, in call order: its value, or its error. */
async function outcomes<T>(calls: Promise<T>[]): Promise<(T | StoreError)[]> {
  return Promise.all(
    calls.map((call) =>
      call.catch((error: unknown) => {
        expect(error).toBeInstanceOf(StoreError);
        return error as StoreError;
      }),
    ),
  );
}

/**
 * How many transactions wrote the prefix's rows: rows written by one statement share its
 * transaction id (`xmin`).
 */
async function writers(run: Sql, prefix: string): Promise<number> {
  const [row] = await run("select count(distinct xmin::text)::int as n from workflow_store where prefix = $1", [
    prefix,
  ]);
  return Number(row?.n);
}

/**
 * What `batch` promises, on a store whose pool is one connection (so that calls made together
 * find it busy): `open(batch)` makes such a store, `run` reads its database beside it.
 */
function batchingCases(open: (options: { batch?: boolean; maxValueBytes?: number }) => Promise<Store>, sql: () => Sql) {
  let store: Store;
  beforeAll(async () => {
    store = await open({});
  });
  afterAll(() => store?.close());

  it("sends sets made while the connection is busy together, and each resolves; batch: false sends each alone", async () => {
    const prefix = `/batching/${randomUUID()}`;
    const calls = Array.from({ length: CALLERS }, (_, i) => store.set(prefix, `k${i}`, Buffer.from(`v${i}`)));
    expect(await outcomes(calls)).toEqual(calls.map(() => undefined));
    const values = await store.getMany(
      prefix,
      calls.map((_, i) => `k${i}`),
    );
    expect([...values].map(([key, value]) => [key, value.toString()]).sort()).toEqual(
      calls.map((_, i) => [`k${i}`, `v${i}`]).sort(),
    );
    // The first goes alone; the others wait for it and go as one statement (or a few).
    expect(await writers(sql(), prefix)).toBeLessThan(CALLERS / 4);

    const unbatched = await open({ batch: false });
    try {
      const alone = `/batching/${randomUUID()}`;
      await Promise.all(Array.from({ length: CALLERS }, (_, i) => unbatched.set(alone, `k${i}`, Buffer.from("v"))));
      expect(await writers(sql(), alone)).toBe(CALLERS);
    } finally {
      await unbatched.close();
    }
  });

  it("keeps the later call's value for a key set twice while waiting", async () => {
    const prefix = `/batching/${randomUUID()}`;
    await Promise.all(Array.from({ length: CALLERS }, (_, i) => store.set(prefix, "k", Buffer.from(`v${i}`))));
    expect((await store.get(prefix, "k"))?.toString()).toBe(`v${CALLERS - 1}`);
  });

  it("fails a call with bad input on its own, before it waits, and its neighbours go on", async () => {
    const prefix = `/batching/${randomUUID()}`;
    const calls = Array.from({ length: CALLERS }, (_, i) =>
      store.set(prefix, i === 5 ? "x".repeat(300) : `k${i}`, Buffer.from(`v${i}`)),
    );
    const results = await outcomes(calls);
    expect((results[5] as StoreError).code).toBe("INVALID_ARGUMENT");
    expect(results.filter((result) => result !== undefined)).toHaveLength(1);
    expect(await store.count(prefix)).toBe(CALLERS - 1);
  });

  it("gives each of the gets made together its own value, null for a missing key", async () => {
    const prefix = `/batching/${randomUUID()}`;
    await store.setMany(
      prefix,
      Array.from({ length: CALLERS / 2 }, (_, i) => [`k${i}`, Buffer.from(`v${i}`)]),
    );
    const values = await outcomes(Array.from({ length: CALLERS }, (_, i) => store.get(prefix, `k${i}`)));
    expect(values.map((value) => (value instanceof Buffer ? value.toString() : value))).toEqual(
      Array.from({ length: CALLERS }, (_, i) => (i < CALLERS / 2 ? `v${i}` : null)),
    );
  });

  it("fails only the get of a value over maxValueBytes among gets made together", async () => {
    const prefix = `/batching/${randomUUID()}`;
    const small = await open({ maxValueBytes: 16 });
    try {
      await store.set(prefix, "big", Buffer.alloc(17));
      await small.set(prefix, "k", Buffer.from("v"));
      const results = await outcomes(Array.from({ length: 8 }, (_, i) => small.get(prefix, i === 3 ? "big" : "k")));
      expect((results[3] as StoreError).code).toBe("QUERY");
      expect((results[3] as StoreError).key).toBe("big");
      expect(results.filter((result) => result instanceof Buffer && result.toString() === "v")).toHaveLength(7);
    } finally {
      await small.close();
    }
  });
}

describe.skipIf(databaseUrl === null)(`batching on a store's own PostgreSQL pool${skipReason}`, () => {
  const url = databaseUrl ?? "";
  let admin: postgres.Sql;
  beforeAll(() => {
    admin = postgres(url, { max: 2, onnotice: () => {} });
  });
  afterAll(() => admin?.end());

  batchingCases(
    (options) => createPostgresStore({ ...parseDsn(url), max: 1 }, options),
    () => (text, params) => admin.unsafe(text, params as never[]),
  );

  it("lets gets through while sets wait on a row lock, on the pool's other connections", async () => {
    const prefix = `/batching/${randomUUID()}`;
    const store = await createPostgresStore(url);
    try {
      await store.setMany(prefix, [
        ["locked", Buffer.from("before")],
        ["free", Buffer.from("free")],
      ]);
      await admin.begin(async (tx) => {
        await tx`select 1 from workflow_store where prefix = ${prefix} and key = 'locked' for update`;
        // More blocked sets than the statements that hold calls back while they run.
        const blocked = Array.from({ length: 6 }, (_, i) => store.set(prefix, "locked", Buffer.from(`after-${i}`)));
        await new Promise((resolve) => setTimeout(resolve, 100));
        const reads = await Promise.all(Array.from({ length: 16 }, () => store.get(prefix, "free")));
        expect(reads.map((read) => read?.toString())).toEqual(reads.map(() => "free"));
        void Promise.allSettled(blocked);
      });
    } finally {
      await store.close();
    }
  });

  it("never deadlocks two stores writing the same keys in opposite orders at once", async () => {
    const prefix = `/batching/${randomUUID()}`;
    const keys = Array.from({ length: 100 }, (_, i) => `k${String(i).padStart(3, "0")}`);
    const stores = await Promise.all([0, 1].map(() => createPostgresStore(url)));
    try {
      const rounds = stores.flatMap((store, n) =>
        Array.from({ length: 10 }, async () => {
          const ordered = n === 0 ? keys : [...keys].reverse();
          await store.setMany(
            prefix,
            ordered.map((key) => [key, Buffer.from(String(n))]),
          );
          // And as sets batched together.
          await Promise.all(ordered.map((key) => store.set(prefix, key, Buffer.from(String(n)))));
        }),
      );
      expect((await outcomes(rounds)).filter((result) => result !== undefined)).toEqual([]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it("fails each call of a statement that fails with that statement's error, under its own key", async () => {
    const prefix = `/batching/${randomUUID()}`;
    const store = await createPostgresStore({ ...parseDsn(url), max: 1, lockTimeoutSeconds: 0.5 });
    try {
      await store.set(prefix, "locked", Buffer.from("before"));
      await admin.begin(async (tx) => {
        await tx`select 1 from workflow_store where prefix = ${prefix} and key = 'locked' for update`;
        // The first waits on the row alone; the others wait for the connection, then go together.
        const keys = ["locked", "a", "b", "locked", "c"];
        const results = await outcomes(keys.map((key) => store.set(prefix, key, Buffer.from("after"))));
        expect(results.map((result) => (result as StoreError).code)).toEqual(keys.map(() => "TIMEOUT"));
        expect(results.map((result) => (result as StoreError).key)).toEqual(keys);
      });
      expect(await store.count(prefix)).toBe(1);
      await store.set(prefix, "a", Buffer.from("after"));
    } finally {
      await store.close();
    }
  });
});

describe("batching on the embedded store", () => {
  let connection: Connection;
  beforeAll(async () => {
    connection = await connectEmbedded();
  });
  afterAll(() => connection?.close());

  // Stores as createEmbeddedStore makes them (PGlite runs one statement at a time), on one
  // database, so that a case can compare two.
  batchingCases(
    (options) => openStore(connection.db, resolveStoreOptions(options), { label: "embedded", connections: 1 }),
    () => async (text, params) => {
      const client = (connection.db as unknown as { $client: PGlite }).$client;
      return (await client.query<Record<string, unknown>>(text, params)).rows;
    },
  );
});

describe.skipIf(databaseUrl === null)(
  `batching on an app's node-postgres pool and postgres.js client${skipReason}`,
  () => {
    const url = databaseUrl ?? "";
    let admin: postgres.Sql;
    const opened: { end(): Promise<unknown> }[] = [];
    beforeAll(() => {
      admin = postgres(url, { max: 2, onnotice: () => {} });
    });
    afterAll(async () => {
      await Promise.all(opened.map((client) => client.end()));
      await admin?.end();
    });
    const run: () => Sql = () => (text, params) => admin.unsafe(text, params as never[]);

    // The app's pools of one connection: the store reads their size from the driver.
    describe("node-postgres Pool", () => {
      batchingCases((options) => {
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        opened.push(pool);
        return createStoreWithDb(drizzleNodePostgres({ client: pool }), options);
      }, run);
    });
    describe("postgres.js", () => {
      batchingCases((options) => {
        const client = postgres(url, { max: 1, onnotice: () => {} });
        opened.push(client);
        return createStoreWithDb(drizzlePostgresJs({ client }), options);
      }, run);
    });
  },
);
