import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { inspect } from "node:util";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore, createStoreWithDb, parseDsn, type StoreError } from "../src/index.js";
import { TEST_COLLATION_CHECK, TEST_TIME_ZONE } from "./support/global-setup.js";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";

async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: StoreError) => error,
  );
}

describe("createPostgresStore without a server", () => {
  let silent: Server;
  let silentPort = 0;
  beforeAll(async () => {
    // Accepts connections and never answers: a server that hangs.
    silent = createServer(() => {}).listen(0, "127.0.0.1");
    await once(silent, "listening");
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(() => void silent.close());

  it("fails with CONNECTION when nothing listens, without the password in the error", async () => {
    const closed = createServer().listen(0, "127.0.0.1");
    await once(closed, "listening");
    const port = (closed.address() as { port: number }).port;
    closed.close();
    const error = await rejection(createPostgresStore({ host: "127.0.0.1", port, password: "hunter2-secret" }));
    expect(error.code).toBe("CONNECTION");
    expect(error.op).toBe("connect");
    expect(inspect(error, { depth: 10 })).not.toContain("hunter2-secret");
  });

  it("fails with CONNECTION within connectTimeoutSeconds when the server never answers", async () => {
    const started = Date.now();
    const error = await rejection(
      createPostgresStore({
        host: "127.0.0.1",
        port: silentPort,
        connectTimeoutSeconds: 1,
        password: "hunter2-secret",
      }),
    );
    expect(error.code).toBe("CONNECTION");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(inspect(error, { depth: 10 })).not.toContain("hunter2-secret");
  });

  it("fails with CONNECTION within connectTimeoutSeconds when the port answers with something else, and stops trying", async () => {
    let connections = 0;
    // What an HTTP proxy in the way says: postgres.js alone would try again without end.
    const http = createServer((socket) => {
      connections++;
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
    }).listen(0, "127.0.0.1");
    await once(http, "listening");
    try {
      const port = (http.address() as { port: number }).port;
      const started = Date.now();
      const error = await rejection(
        createPostgresStore({ host: "127.0.0.1", port, connectTimeoutSeconds: 1, password: "hunter2-secret" }),
      );
      expect(error.code).toBe("CONNECTION");
      // postgres.js 4 sees a message no PostgreSQL sends; 3 tries again until the deadline.
      expect(error.message).toMatch(/does not speak PostgreSQL's protocol|no PostgreSQL answered/);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(inspect(error, { depth: 10 })).not.toContain("hunter2-secret");
      // One attempt may still be on its way; after that, nothing.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const after = connections;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(connections).toBe(after);
    } finally {
      http.close();
    }
  });

  it("fails with CONFIG before connecting when the config is wrong", async () => {
    expect((await rejection(createPostgresStore({ port: 0 }))).code).toBe("CONFIG");
    expect((await rejection(createPostgresStore("sslmode=sometimes"))).code).toBe("CONFIG");
    expect((await rejection(createPostgresStore({ sslMode: "verify-ca", sslRootCert: "/no/such/ca.pem" }))).code).toBe(
      "CONFIG",
    );
  });
});

describe.skipIf(databaseUrl === null)(`createPostgresStore on PostgreSQL${skipReason}`, () => {
  const url = databaseUrl ?? "";

  it("runs in a database whose collation is not byte order and whose time zone is not UTC", async () => {
    const database = await freshDatabase("sanity");
    try {
      const { client } = database.connect();
      const [order] = await client.unsafe(TEST_COLLATION_CHECK);
      expect(order?.not_byte_order).toBe(true);
      const [zone] = await client`show timezone`;
      expect(zone?.TimeZone).toBe(TEST_TIME_ZONE);
    } finally {
      await database.drop();
    }
  });

  it("fails with CONNECTION for a database that does not exist", async () => {
    const error = await rejection(createPostgresStore({ ...parseDsn(url), database: "no_such_database_here" }));
    expect(error.code).toBe("CONNECTION");
  });

  it("ends its own pool on close", async () => {
    const applicationName = `dws-close-${process.pid}`;
    const store = await createPostgresStore({ ...parseDsn(url), applicationName });
    const watcher = new pg.Pool({ connectionString: url, max: 1 });
    const count = async () =>
      (
        await watcher.query("select count(*)::int as n from pg_stat_activity where application_name = $1", [
          applicationName,
        ])
      ).rows[0].n;
    try {
      await store.set("p", "k", Buffer.from("v"));
      expect(await count()).toBeGreaterThan(0);
      await store.close();
      expect(await count()).toBe(0);
    } finally {
      await watcher.end();
    }
  });

  it("shows no password when inspected", async () => {
    const store = await createPostgresStore({ ...parseDsn(url), password: "hunter2-secret" });
    try {
      expect(inspect(store, { depth: 10 })).not.toContain("hunter2-secret");
      expect(JSON.stringify(store)).not.toContain("hunter2-secret");
    } finally {
      await store.close();
    }
  });

  it("does not create the table when autoMigrate is false, and says at creation that it is missing", async () => {
    const database = await freshDatabase("nomigrate");
    try {
      const error = await rejection(createPostgresStore(database.url, { autoMigrate: false }));
      expect(error.code).toBe("SCHEMA");
      expect(error.message).toContain("workflow-store migrate");
      const [row] = await database.connect(1).db.execute(sql`select to_regclass('workflow_store') as found`);
      expect(row?.found).toBeNull();
    } finally {
      await database.drop();
    }
  });

  it("reports a table dropped while the store runs as SCHEMA, saying what to run", async () => {
    const database = await freshDatabase("dropped");
    try {
      const store = await createPostgresStore(database.url);
      try {
        await database.connect(1).db.execute(sql`drop table workflow_store`);
        const error = await rejection(store.get("p", "k"));
        expect(error.code).toBe("SCHEMA");
        expect(error.message).toContain('prefix "p", key "k"');
        expect(error.message).toContain("workflow-store migrate");
        expect((error.cause as { code?: string }).code).toBe("42P01");
      } finally {
        await store.close();
      }
    } finally {
      await database.drop();
    }
  });

  it("lists, streams keys and streams entries of 100,000 rows in growing pages, in order, each once", async () => {
    const client = new pg.Pool({ connectionString: url, max: 2 });
    const limits: unknown[] = [];
    const db = drizzlePg({
      client,
      logger: { logQuery: (query, params) => void (query.includes("limit") && limits.push(params.at(-1))) },
    });
    try {
      const store = await createStoreWithDb(db);
      const prefix = `/big/${process.pid}`;
      await client.query(
        "insert into workflow_store (prefix, key, value) select $1, lpad(i::text, 6, '0'), '\\x00' from generate_series(1, 100000) i",
        [prefix],
      );
      const walk = async (keys: AsyncIterable<string> | ((visit: (key: string) => void) => Promise<void>)) => {
        let count = 0;
        let last = "";
        let ordered = true;
        const visit = (key: string) => {
          ordered &&= key > last;
          last = key;
          count++;
        };
        if (typeof keys === "function") await keys(visit);
        else for await (const key of keys) visit(key);
        return { count, ordered };
      };
      const entryKeys = async function* () {
        for await (const entry of store.entries(prefix)) yield entry.key;
      };
      // Pages of 1,000 keys that double up to 16,000: ten queries, the last finding the end. An
      // entries page is doubled only within 2 MiB, counting about 1 KiB a row: to 2,000 rows here.
      const keyPages = [1000, 2000, 4000, 8000, 16000, 16000, 16000, 16000, 16000, 16000];
      const entryPages = [1000, ...Array<number>(50).fill(2000)];
      for (const [keys, pages] of [
        [(visit: (key: string) => void) => store.list(prefix, visit), keyPages],
        [store.keys(prefix), keyPages],
        [entryKeys(), entryPages],
      ] as const) {
        limits.length = 0;
        expect(await walk(keys)).toEqual({ count: 100_000, ordered: true });
        expect(limits).toEqual(pages);
      }
      expect(await store.removePrefix(prefix)).toBe(100_000);
    } finally {
      await client.end();
    }
  });

  it("purges in batches while another client writes, and the writer never fails", async () => {
    const database = await freshDatabase("purge");
    const purger = await createPostgresStore(database.url);
    const writer = await createPostgresStore(database.url);
    try {
      const { client } = database.connect();
      await client`
        insert into workflow_store (prefix, key, value, created_at, updated_at)
        select '/old', 'k' || i, '\\x00', now() - interval '2 days', now() - interval '2 days'
        from generate_series(1, 20000) i`;
      const cutoff = new Date(Date.now() - 24 * 3600 * 1000);
      let writing = true;
      let written = 0;
      const writes = (async () => {
        while (writing) {
          // New rows, and old rows rewritten: both must survive the purge.
          await writer.set("/new", `n${written}`, Buffer.from("fresh"));
          await writer.set("/old", `k${(written * 37) % 20000}`, Buffer.from("rewritten"));
          written++;
        }
      })();
      const purged = await purger.purge({ olderThan: cutoff, batchSize: 500 });
      writing = false;
      await writes;
      expect(written).toBeGreaterThan(0);
      expect(purged).toBeGreaterThan(0);
      const [left] =
        await client`select count(*)::int as old from workflow_store where updated_at < now() - interval '1 day'`;
      expect(left?.old).toBe(0);
      expect(await purger.count("/new")).toBe(written);
      expect(purged + (await purger.count("/old"))).toBeGreaterThanOrEqual(20000);
    } finally {
      await purger.close();
      await writer.close();
      await database.drop();
    }
  });

  it("leaves the caller's connection open when a store built on it closes", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const postgresJs = (await import("postgres")).default(url, { max: 1, onnotice: () => {} });
    try {
      for (const db of [drizzlePg({ client: pool }), drizzlePostgresJs({ client: postgresJs })]) {
        const store = await createStoreWithDb(db);
        await store.close();
        expect((await pool.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
        expect(await postgresJs`select 1 as one`).toEqual([{ one: 1 }]);
      }
    } finally {
      await pool.end();
      await postgresJs.end();
    }
  });
});
