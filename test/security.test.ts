import { inspect } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import pg from "pg";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { type AnyPgDatabase, createStoreWithDb, type StoreError } from "../src/index.js";
import { expectStoreError } from "../src/testing/index.js";
import { databaseUrl, freshDatabasePerTest, skipReason } from "./support/postgres.js";

const SECRET = "s3cret-value-0f-a-run";

/** Everything an error shows to a log, a debugger or a JSON encoder, hidden properties included. */
function everythingShown(error: StoreError): string {
  return [
    error.message,
    error.stack,
    inspect(error, { depth: 20, showHidden: true }),
    JSON.stringify(error),
    JSON.stringify(error.cause),
  ].join("\n");
}

/** Makes the server refuse a write of SECRET, with the failing row (values included) in its detail. */
async function refuseTheSecret(db: AnyPgDatabase): Promise<void> {
  await db.execute(sql.raw(`alter table workflow_store add constraint no_secret check (value <> '${SECRET}'::bytea)`));
}

async function expectNoStoredData(db: AnyPgDatabase): Promise<void> {
  const store = await createStoreWithDb(db);
  await refuseTheSecret(db);
  for (const attempt of [
    () => store.set("/run_context/", "k", Buffer.from(SECRET)),
    () => store.setMany("/run_context/", { k: Buffer.from(SECRET) }),
    () => store.transaction((tx) => tx.set("/run_context/", "k", Buffer.from(SECRET))),
  ]) {
    const error = await expectStoreError(attempt(), "QUERY");
    expect((error.cause as { code?: string }).code).toBe("23514");
    const shown = everythingShown(error);
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain(Buffer.from(SECRET).toString("hex"));
    expect(shown).not.toContain(Buffer.from(SECRET).toString("base64"));
  }
}

describe("errors carry no stored data", () => {
  it("on PGlite", async () => {
    const client = new PGlite();
    try {
      await expectNoStoredData(drizzlePglite({ client }));
    } finally {
      await client.close();
    }
  });
});

describe.skipIf(databaseUrl === null)(`errors carry no stored data on PostgreSQL${skipReason}`, () => {
  const fresh = freshDatabasePerTest();

  it("through postgres.js", async () => {
    const database = await fresh("secret_js");
    const client = postgres(database.url, { max: 2, onnotice: () => {} });
    try {
      await expectNoStoredData(drizzlePostgresJs({ client }));
    } finally {
      await client.end();
    }
  });

  it("through node-postgres", async () => {
    const database = await fresh("secret_pg");
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    try {
      await expectNoStoredData(drizzlePg({ client: pool }));
    } finally {
      await pool.end();
    }
  });
});
