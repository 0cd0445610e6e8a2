import { createServer } from "node:net";
import { inspect } from "node:util";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import pg from "pg";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import {
  type AnyPgDatabase,
  configFromEnv,
  createPostgresStore,
  createStoreWithDb,
  parseDsn,
  type StoreError,
} from "../src/index.js";
import { expectStoreError } from "../src/testing/index.js";
import { newPgliteInMemory } from "./support/pglite-template.js";
import { databaseUrl, freshDatabasePerBlock, skipReason } from "./support/postgres.js";

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

const PASSWORD = "pw-Never-Shown-7731";

describe("the password never shows", () => {
  it("in any error of a failed connection or a malformed DSN, hidden properties and JSON included", async () => {
    const closed = createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => closed.once("listening", resolve));
    const closedPort = (closed.address() as { port: number }).port;
    closed.close();
    const attempts: (() => Promise<unknown>)[] = [
      () => createPostgresStore(`postgres://app:${PASSWORD}@127.0.0.1:${closedPort}/db`),
      () => createPostgresStore({ host: "no-such-host.invalid", password: PASSWORD, connectTimeoutSeconds: 2 }),
      () => createPostgresStore(`postgres://app:${PASSWORD}@127.0.0.1:notaport/db`),
      () => createPostgresStore(`host=127.0.0.1 password='${PASSWORD} sslmode=verify-full`),
      async () => parseDsn(`user=app password=${PASSWORD} sslmode=sometimes`),
      async () => configFromEnv({ DATABASE_URL: `postgres://app:${PASSWORD}@db:99999/x` }),
    ];
    for (const attempt of attempts) {
      const error = (await attempt().then(
        () => undefined,
        (e: unknown) => e,
      )) as StoreError;
      expect(error?.name).toBe("StoreError");
      expect(everythingShown(error)).not.toContain(PASSWORD);
    }
  });

  it("in a config or a store, inspected, printed or serialized", async () => {
    const config = parseDsn(`postgres://app:${PASSWORD}@127.0.0.1:5432/db`);
    for (const shown of [inspect(config, { showHidden: true, depth: 10 }), JSON.stringify(config), `${config}`]) {
      expect(shown).not.toContain(PASSWORD);
    }
  });
});

describe("errors carry no stored data", () => {
  it("on PGlite", async () => {
    const client = await newPgliteInMemory();
    try {
      await expectNoStoredData(drizzlePglite({ client }));
    } finally {
      await client.close();
    }
  });
});

describe.skipIf(databaseUrl === null)(`errors carry no stored data on PostgreSQL${skipReason}`, () => {
  const fresh = freshDatabasePerBlock();

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
