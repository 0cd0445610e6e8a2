import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import { createPostgresStore, createStoreWithDb, migrationStatus, type StoreError } from "../src/index.js";
import { expectStoreError } from "../src/testing/index.js";
import { GO_STORE_DDL } from "./support/go-store.js";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";
import { createRole, READ_WRITE_GRANTS } from "./support/roles.js";

describe.skipIf(databaseUrl === null)(`start-up on least privilege${skipReason}`, () => {
  const cleanups: (() => Promise<void>)[] = [];
  const fresh = async (label: string, migrated: boolean) => {
    const database = await freshDatabase(label);
    cleanups.push(database.drop);
    if (migrated) await (await createPostgresStore(database.url)).close();
    return database;
  };
  const role = async (url: string, grants?: (role: string) => string[]) => {
    const created = await createRole(url, grants);
    // Roles go after the databases whose grants they hold.
    cleanups.push(created.drop);
    return created;
  };
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it("lets a role that may only read and write the table create a store with default options and run every call", async () => {
    const database = await fresh("readwrite", true);
    const app = await role(database.url, READ_WRITE_GRANTS);
    const store = await createPostgresStore(app.url);
    try {
      await store.set("/run_context/1", "a", Buffer.from("one"));
      await store.setMany("/run_context/1", { b: Buffer.from("two"), c: Buffer.from("three") });
      expect((await store.get("/run_context/1", "a"))?.toString()).toBe("one");
      expect([...(await store.getMany("/run_context/1", ["a", "b"])).keys()].sort()).toEqual(["a", "b"]);
      expect(await store.has("/run_context/1", "c")).toBe(true);
      expect(await store.count("/run_context/1")).toBe(3);
      const keys: string[] = [];
      for await (const key of store.keys("/run_context/1")) keys.push(key);
      expect(keys).toEqual(["a", "b", "c"]);
      for await (const entry of store.entries("/run_context/1")) expect(entry.value.length).toBeGreaterThan(0);
      await store.transaction(async (tx) => tx.set("/run_context/1", "d", Buffer.from("four")));
      expect(await store.removeMany("/run_context/1", ["a"])).toBe(1);
      await store.remove("/run_context/1", "b");
      expect(await store.purge({ olderThan: new Date(Date.now() + 60_000), prefix: "/run_context/1" })).toBe(2);
      await store.set("/run_context/2", "x", Buffer.from("x"));
      expect(await store.removePrefix("/run_context/2")).toBe(1);
      const revision = await store.setIf("/run_context/3", "k", Buffer.from("v"), { revision: 0 });
      expect((await store.getWithRevision("/run_context/3", "k"))?.revision).toBe(revision);
      await store.removeIf("/run_context/3", "k", { revision });
      const lease = await store.acquireLease("run/3", { ttlMs: 10_000 });
      expect(lease?.token).toBeGreaterThan(revision);
      await lease?.renew();
      await lease?.release();
    } finally {
      await store.close();
    }
  });

  it("sends no NOTICE to an app's own postgres.js connection, on the first start-up or later ones", async () => {
    const database = await fresh("notices", false);
    const notices: unknown[] = [];
    // The app's client, with postgres.js's default of printing notices replaced by a recorder.
    const client = postgres(database.url, { max: 1, onnotice: (notice) => notices.push(notice) });
    try {
      const db = drizzle({ client });
      await createStoreWithDb(db);
      await createStoreWithDb(db);
      // A table the Go store created is adopted without a word too.
      await db.execute(sql`drop table workflow_store`);
      await db.execute(sql`drop schema drizzle cascade`);
      await db.execute(sql.raw(GO_STORE_DDL));
      notices.splice(0); // the test's own drop cascade
      await createStoreWithDb(db);
      expect(notices).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it("with a migration pending and no right to create, fails with PERMISSION naming the privilege and what to run", async () => {
    const database = await fresh("pending", false);
    const app = await role(database.url);
    const error = await expectStoreError(createPostgresStore(app.url), "PERMISSION");
    expect(error.message).toMatch(/needs CREATE on database "dws_pending_\w+" and CREATE on schema "public"\./);
    expect(error.message).toContain("0000_workflow_store");
    expect(error.message).toContain("Run `workflow-store migrate` as an owner");
    expect(error.message).toMatch(/permission denied for (database|schema)/);
    expect((await migrationStatus(database.connect().db)).pending).not.toHaveLength(0);
  });

  it("says which grants are missing when the role may not read the journal, and works with autoMigrate false", async () => {
    const database = await fresh("journal", true);
    const app = await role(database.url, (name) => [
      `grant select, insert, update, delete on workflow_store to "${name}"`,
    ]);
    const error: StoreError = await expectStoreError(createPostgresStore(app.url), "PERMISSION");
    expect(error.message).toContain('grant it USAGE on schema "drizzle" and SELECT on the journal');
    expect(error.message).toContain("autoMigrate: false");
    const store = await createPostgresStore(app.url, { autoMigrate: false });
    try {
      await store.set("p", "k", Buffer.from("v"));
      expect((await store.get("p", "k"))?.toString()).toBe("v");
    } finally {
      await store.close();
    }
  });

  it("creates the table again when it was dropped behind the journal's back, keeping the journal as it was", async () => {
    const database = await fresh("restore", true);
    const { db, client } = database.connect();
    const journal = async () => (await client`select hash from drizzle.__workflow_store_migrations`).map((r) => r.hash);
    const before = await journal();
    await db.execute(sql`drop table workflow_store`);
    const status = await migrationStatus(db);
    expect(status.tableExists).toBe(false);
    expect(status.migrations.every((m) => m.applied)).toBe(true);
    expect(status.pending).toEqual(status.migrations);

    // A role that may not create says what happened instead of failing at its first call.
    const app = await role(database.url, (name) => [
      `grant usage on schema drizzle to "${name}"`,
      `grant select on drizzle.__workflow_store_migrations to "${name}"`,
    ]);
    const denied = await expectStoreError(createPostgresStore(app.url), "PERMISSION");
    expect(denied.message).toContain("table is missing although drizzle.__workflow_store_migrations records");
    expect(denied.message).toContain('which needs CREATE on schema "public". Run `workflow-store migrate`');

    const store = await createPostgresStore(database.url);
    try {
      await store.set("p", "k", Buffer.from("v"));
      expect((await store.get("p", "k"))?.toString()).toBe("v");
    } finally {
      await store.close();
    }
    expect(await journal()).toEqual(before);
    expect((await migrationStatus(db)).pending).toEqual([]);
  });
});
