import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  createEmbeddedStore,
  createPostgresStore,
  createStoreWithDb,
  migrate,
  migrationStatus,
  type Store,
} from "../src/index.js";
import { expectStoreError } from "../src/testing/index.js";
import { newPgliteInMemory } from "./support/pglite-template.js";
import { databaseUrl, freshDatabasePerBlock, skipReason } from "./support/postgres.js";

async function withStores<T>(stores: Store[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    for (const store of stores) await store.close();
  }
}

describe("the schema option", () => {
  it("rejects what is not a usable schema name with CONFIG before opening anything", async () => {
    for (const schema of ["", "pg_mine", "drizzle", "x".repeat(64), "a\0b", 42]) {
      await expectStoreError(createEmbeddedStore({ schema: schema as string }), "CONFIG");
    }
  });

  it("keeps two schemas of one embedded database apart", async () => {
    const client = await newPgliteInMemory();
    const db = drizzlePglite({ client });
    try {
      const a = await createStoreWithDb(db, { schema: "tenant_a" });
      const b = await createStoreWithDb(db, { schema: "tenant_b" });
      await a.set("/dag/", "wf", Buffer.from("a"));
      await b.set("/dag/", "wf", Buffer.from("b"));
      expect((await a.get("/dag/", "wf"))?.toString()).toBe("a");
      expect((await b.get("/dag/", "wf"))?.toString()).toBe("b");
      const { rows } = await client.query<{ table_schema: string }>(
        "select table_schema from information_schema.tables where table_name = 'workflow_store' order by 1",
      );
      expect(rows.map((row) => row.table_schema)).toEqual(["tenant_a", "tenant_b"]);
    } finally {
      await client.close();
    }
  });
});

describe.skipIf(databaseUrl === null)(`the schema option on PostgreSQL${skipReason}`, () => {
  const fresh = freshDatabasePerBlock();

  it("puts the table and its journal in the schema, apart from another schema's and the default layout's", async () => {
    const database = await fresh("schemas");
    const a = await createPostgresStore(database.url, { schema: "tenant_a" });
    const b = await createPostgresStore(database.url, { schema: "Tenant-B" });
    const plain = await createPostgresStore(database.url);
    await withStores([a, b, plain], async () => {
      await a.set("/record/1", "step", Buffer.from("a"));
      await b.set("/record/1", "step", Buffer.from("b"));
      await plain.set("/record/1", "step", Buffer.from("plain"));
      expect((await a.get("/record/1", "step"))?.toString()).toBe("a");
      expect((await b.get("/record/1", "step"))?.toString()).toBe("b");
      expect((await plain.get("/record/1", "step"))?.toString()).toBe("plain");
      expect(await a.removePrefix("/record/1")).toBe(1);
      expect(await b.count("/record/1")).toBe(1);
    });
    const { client } = database.connect();
    const tables = await client`
      select table_schema || '.' || table_name as name from information_schema.tables
      where table_name in ('workflow_store', '__workflow_store_migrations') order by 1`;
    expect(tables.map((row) => row.name)).toEqual([
      "Tenant-B.__workflow_store_migrations",
      "Tenant-B.workflow_store",
      "drizzle.__workflow_store_migrations",
      "public.workflow_store",
      "tenant_a.__workflow_store_migrations",
      "tenant_a.workflow_store",
    ]);
  });

  it("migrates each schema on its own, and reports each one's status", async () => {
    const database = await fresh("schemastatus");
    const { db } = database.connect();
    expect(await migrate(db, { schema: "one" })).not.toHaveLength(0);
    expect(await migrate(db, { schema: "one" })).toEqual([]);
    const one = await migrationStatus(db, { schema: "one" });
    const two = await migrationStatus(db, { schema: "two" });
    expect(one).toMatchObject({ schema: "one", journal: "one.__workflow_store_migrations", tableExists: true });
    expect(one.pending).toEqual([]);
    expect(two).toMatchObject({ schema: "two", journal: "two.__workflow_store_migrations", tableExists: false });
    expect(two.pending.map((m) => m.tag)).toEqual(two.migrations.map((m) => m.tag));
    expect(two.pending[0]?.sql.join("\n")).toContain('CREATE TABLE IF NOT EXISTS "workflow_store"');
    await expectStoreError(createStoreWithDb(db, { schema: "two", autoMigrate: false }), "SCHEMA");
  });

  it("shares one node-postgres connection between stores on two schemas (statement names differ)", async () => {
    const database = await fresh("schemapool");
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      const db = drizzlePg({ client: pool });
      const a = await createStoreWithDb(db, { schema: "a" });
      const b = await createStoreWithDb(db, { schema: "b" });
      for (let i = 0; i < 3; i++) {
        await a.set("p", "k", Buffer.from(`a${i}`));
        await b.set("p", "k", Buffer.from(`b${i}`));
        expect((await a.get("p", "k"))?.toString()).toBe(`a${i}`);
        expect((await b.get("p", "k"))?.toString()).toBe(`b${i}`);
      }
    } finally {
      await pool.end();
    }
  });
});
