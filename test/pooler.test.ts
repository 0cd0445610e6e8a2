import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore, createStoreWithDb, type Store } from "../src/index.js";
import { collect, freshPrefix } from "../src/testing/index.js";
import { pgBouncerUnavailable, startPgBouncer } from "./support/pgbouncer.js";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";

const unavailable = databaseUrl === null ? skipReason : pgBouncerUnavailable();

/** Every call of the store, several at once so that they share the pooler's server connections. */
async function everyCall(store: Store): Promise<void> {
  const prefix = freshPrefix("pooler");
  await Promise.all(Array.from({ length: 8 }, (_, i) => store.set(prefix, `k${i}`, Buffer.from(`v${i}`))));
  const reads = await Promise.all(Array.from({ length: 8 }, (_, i) => store.get(prefix, `k${i}`)));
  expect(reads.map((value) => value?.toString())).toEqual(Array.from({ length: 8 }, (_, i) => `v${i}`));
  await store.setMany(prefix, { a: Buffer.from("a"), b: Buffer.from("b") });
  expect([...(await store.getMany(prefix, ["a", "b", "k0"])).keys()].sort()).toEqual(["a", "b", "k0"]);
  expect(await store.has(prefix, "a")).toBe(true);
  expect(await store.count(prefix)).toBe(10);
  expect(await collect(store.keys(prefix, { pageSize: 3 }))).toHaveLength(10);
  expect(await collect(store.entries(prefix, { pageSize: 3 }))).toHaveLength(10);
  const listed: string[] = [];
  await store.list(prefix, (key) => void listed.push(key));
  expect(listed).toHaveLength(10);
  await store.transaction(async (tx) => {
    await tx.set(prefix, "tx", Buffer.from("t"));
    expect(await tx.get(prefix, "tx")).toEqual(Buffer.from("t"));
  });
  expect(await store.removeMany(prefix, ["a", "b"])).toBe(2);
  await store.remove(prefix, "tx");
  expect(await store.purge({ olderThan: new Date(Date.now() + 60_000), prefix, batchSize: 3 })).toBe(8);
  await store.set(prefix, "last", Buffer.from("l"));
  expect(await store.removePrefix(prefix)).toBe(1);
}

describe.skipIf(unavailable !== undefined)(
  `through PgBouncer in transaction mode${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    let bouncer: Awaited<ReturnType<typeof startPgBouncer>>;
    let database: Awaited<ReturnType<typeof freshDatabase>>;
    let url = "";
    beforeAll(async () => {
      database = await freshDatabase("pooler");
      bouncer = await startPgBouncer(database.url);
      url = bouncer.url(new URL(database.url).pathname.slice(1));
    });
    afterAll(async () => {
      await bouncer?.stop();
      await database?.drop();
    });

    it("runs every call with prepare: false, migrations included, on its own postgres.js pool", async () => {
      const store = await createPostgresStore(url, { prepare: false });
      try {
        await everyCall(store);
      } finally {
        await store.close();
      }
    });

    it("runs every call with prepare: false over an app's postgres.js client and an app's node-postgres pool", async () => {
      // postgres.js 4 sends queries with parameters behind one another on a connection, which
      // PgBouncer 1.18 in transaction mode leaves unanswered: an app's client behind it takes
      // max_pipeline: 1, as the README says (postgres.js 3 waits for the description of each such
      // query before sending the next).
      const client = postgres(url, { max: 6, onnotice: () => {}, max_pipeline: 1 });
      const pool = new pg.Pool({ connectionString: url, max: 6 });
      try {
        await everyCall(await createStoreWithDb(drizzlePostgresJs({ client }), { prepare: false }));
        await everyCall(await createStoreWithDb(drizzlePg({ client: pool }), { prepare: false }));
      } finally {
        await client.end();
        await pool.end();
      }
    });

    it("without prepare: false, fails with an error that names the option", async () => {
      const pool = new pg.Pool({ connectionString: url, max: 6 });
      try {
        // Each call its own statement, spread over the pool's connections: batched, fewer
        // statements would run at once, and the pooler might hand each the connection it was
        // prepared on.
        const store = await createStoreWithDb(drizzlePg({ client: pool }), { batch: false });
        const prefix = freshPrefix("named");
        const outcomes = await Promise.allSettled(
          Array.from({ length: 60 }, (_, i) => store.set(prefix, `k${i % 6}`, Buffer.from("v"))),
        );
        const failures = outcomes.filter((outcome) => outcome.status === "rejected");
        expect(failures.length).toBeGreaterThan(0);
        for (const failure of failures) {
          expect(String((failure as PromiseRejectedResult).reason.message)).toContain("prepare: false");
        }
      } finally {
        await pool.end();
      }
    });
  },
);
