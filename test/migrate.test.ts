import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { describe, expect, it } from "vitest";
import { createPostgresStore, createStoreWithDb, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, migrate } from "../src/index.js";
import { GO_STORE_DDL } from "./support/go-store.js";
import { newPgliteInMemory } from "./support/pglite-template.js";
import { databaseUrl, freshDatabasePerBlock, skipReason } from "./support/postgres.js";
import { cleanEnv, runProcess } from "./support/processes.js";

const shippedMigrations = readdirSync("drizzle").filter((file) => file.endsWith(".sql")).length;
const migrationsTable = `"${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}"`;

describe.skipIf(databaseUrl === null)(`migrations on PostgreSQL${skipReason}`, () => {
  const fresh = freshDatabasePerBlock();

  const appliedHashes = async (database: Awaited<ReturnType<typeof fresh>>) => {
    const { client } = database.connect();
    const rows = await client.unsafe(`select hash, created_at from ${migrationsTable} order by id`);
    return rows.map((row) => row.hash as string);
  };

  it("creates the table, its primary key, its index, its revision triggers, and records each migration once", async () => {
    const database = await fresh("create");
    const { db, client } = database.connect();
    await migrate(db);
    await migrate(db);
    expect(await appliedHashes(database)).toHaveLength(shippedMigrations);
    const indexes = await client`select indexname from pg_indexes where tablename = 'workflow_store' order by 1`;
    expect(indexes.map((row) => row.indexname)).toEqual([
      "workflow_store_pkey",
      "workflow_store_prefix_key_bytes",
      "workflow_store_prefix_revision",
    ]);
    const columns = await client`
      select column_name, data_type, character_maximum_length, is_nullable
      from information_schema.columns where table_name = 'workflow_store' order by ordinal_position`;
    expect(columns.map((c) => [c.column_name, c.data_type, c.character_maximum_length, c.is_nullable])).toEqual([
      ["prefix", "character varying", 255, "NO"],
      ["key", "character varying", 255, "NO"],
      ["value", "bytea", null, "YES"],
      ["created_at", "timestamp with time zone", null, "YES"],
      ["updated_at", "timestamp with time zone", null, "YES"],
      ["revision", "bigint", null, "NO"],
    ]);
    const triggers = await client`
      select tgname from pg_trigger where tgrelid = 'workflow_store'::regclass and not tgisinternal order by 1`;
    expect(triggers.map((row) => row.tgname)).toEqual(["workflow_store_log_removes", "workflow_store_revise"]);
  });

  it("applies each migration exactly once when many processes migrate at the same moment", async () => {
    const database = await fresh("race");
    const connections = Array.from({ length: 8 }, () => database.connect().db);
    const results = await Promise.allSettled(connections.map((db) => migrate(db)));
    expect(results.filter((result) => result.status === "rejected")).toEqual([]);
    expect(await appliedHashes(database)).toHaveLength(shippedMigrations);
  });

  it("lets eight processes start stores on a new database at once, each migration applied once", async () => {
    const database = await fresh("processes");
    const entry = new URL("../dist/index.js", import.meta.url).href;
    const script = `
      const { createPostgresStore } = await import(${JSON.stringify(entry)});
      const store = await createPostgresStore(process.env.DATABASE_URL);
      await store.set("/started/", String(process.pid), Buffer.from("ok"));
      await store.close();`;
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        runProcess(process.execPath, ["--input-type=module", "-e", script], {
          env: cleanEnv({ DATABASE_URL: database.url }),
        }),
      ),
    );
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect(await appliedHashes(database)).toHaveLength(shippedMigrations);
    const [row] = await database.connect()
      .client`select count(*)::int as n from workflow_store where prefix = '/started/'`;
    expect(row?.n).toBe(8);
  });

  it("opens many stores at once on a new database", async () => {
    const database = await fresh("stores");
    const stores = await Promise.all(Array.from({ length: 6 }, () => createPostgresStore(database.url)));
    await Promise.all(stores.map((store, i) => store.set("p", `k${i}`, Buffer.from([i]))));
    expect(await stores[0]?.get("p", "k5")).toEqual(Buffer.from([5]));
    await Promise.all(stores.map((store) => store.close()));
  });

  it("adopts a table the Go store created, keeping its rows", async () => {
    const database = await fresh("adopt");
    const { client } = database.connect();
    await client.unsafe(GO_STORE_DDL);
    await client`insert into workflow_store (prefix, key, value) values ('/flows', 'plan', '\\x000102'), ('/flows', 'ctx', null)`;
    const store = await createPostgresStore(database.url);
    try {
      expect(await store.get("/flows", "plan")).toEqual(Buffer.from([0, 1, 2]));
      // A NULL value reads as missing, as the Go store reads it; its key is listed.
      expect(await store.get("/flows", "ctx")).toBeNull();
      await store.set("/flows", "trace", Buffer.from("new"));
      const keys: string[] = [];
      await store.list("/flows", (key) => void keys.push(key));
      expect(keys).toEqual(["ctx", "plan", "trace"]);
      expect(await appliedHashes(database)).toHaveLength(shippedMigrations);
    } finally {
      await store.close();
    }
  });

  it("shares its history with drizzle-kit migrate, in both orders", async () => {
    const kit = (url: string) =>
      promisify(execFile)("npx", ["drizzle-kit", "migrate"], { env: { ...process.env, DATABASE_URL: url } });

    const kitFirst = await fresh("kit_first");
    await kit(kitFirst.url);
    const afterKit = await appliedHashes(kitFirst);
    expect(afterKit).toHaveLength(shippedMigrations);
    await migrate(kitFirst.connect().db);
    expect(await appliedHashes(kitFirst)).toEqual(afterKit);

    const storeFirst = await fresh("store_first");
    await migrate(storeFirst.connect().db);
    const afterStore = await appliedHashes(storeFirst);
    await kit(storeFirst.url);
    expect(await appliedHashes(storeFirst)).toEqual(afterStore);
    expect(afterStore).toEqual(afterKit);
  }, 60_000);

  it("keeps out of the app's own __drizzle_migrations", async () => {
    const database = await fresh("app");
    const { db, client } = database.connect();
    await migrate(db);
    const [found] = await client`select to_regclass('drizzle.__drizzle_migrations') as app_table`;
    expect(found?.app_table).toBeNull();
  });

  it("migrates inside an app's transaction, and rolls back with it", async () => {
    const database = await fresh("tx");
    const { db, client } = database.connect();
    const rollback = new Error("roll back");
    await expect(
      db.transaction(async (tx) => {
        const store = await createStoreWithDb(tx);
        await store.set("p", "k", Buffer.from("v"));
        expect(await store.get("p", "k")).toEqual(Buffer.from("v"));
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    const [found] = await client`select to_regclass('public.workflow_store') as store_table`;
    expect(found?.store_table).toBeNull();
  });
});

describe("migrations on PGlite", () => {
  it("apply once and are recorded, and a second run is a no-op", async () => {
    const client = await newPgliteInMemory();
    try {
      const db = drizzlePglite({ client });
      await migrate(db);
      await migrate(db);
      const { rows } = await client.query(`select count(*)::int as n from ${migrationsTable}`);
      expect(rows).toEqual([{ n: shippedMigrations }]);
    } finally {
      await client.close();
    }
  });
});
