import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Connection,
  connectNodePostgres,
  connectPostgres,
  createPostgresStore,
  createStoreWithDb,
  parseDsn,
} from "../src/index.js";
import { expectStoreError } from "../src/testing/index.js";
import { freePort } from "./support/ports.js";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";

/** The two factories of a pool from a config or DSN, one per driver. */
const FACTORIES = [
  ["postgres.js", connectPostgres],
  ["node-postgres", connectNodePostgres],
] as const;

async function settingOf(connection: Connection, name: string): Promise<string> {
  const rows = (await connection.db.execute(sql.raw(`show ${name}`))) as unknown as
    | { rows: Record<string, string>[] }
    | Record<string, string>[];
  const [row] = Array.isArray(rows) ? rows : rows.rows;
  return String(row?.[name]);
}

describe.skipIf(databaseUrl === null)(`several hosts on PostgreSQL${skipReason}`, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  /** The test server as a config, and a loopback port nothing listens on. */
  let server: ReturnType<typeof parseDsn>;
  let deadPort = 0;
  beforeAll(async () => {
    database = await freshDatabase("multi_host");
    server = parseDsn(database.url);
    deadPort = await freePort();
  });
  afterAll(async () => {
    await database?.drop();
  });

  for (const [driver, connect] of FACTORIES) {
    describe(driver, () => {
      it("skips a server that does not answer and takes the next of the list, for a working store", async () => {
        const connection = await connect({
          ...server,
          hosts: [
            { host: "127.0.0.1", port: deadPort },
            { host: server.host, port: server.port },
          ],
          targetSessionAttrs: "read-write",
          connectTimeoutSeconds: 3,
        });
        try {
          expect(connection.label).toContain(`127.0.0.1:${deadPort},${server.host}:${server.port}`);
          const store = await createStoreWithDb(connection.db);
          await store.set("/multi-host/", driver, Buffer.from("v"));
          expect((await store.get("/multi-host/", driver))?.toString()).toBe("v");
          await store.close();
        } finally {
          await connection.close();
        }
      });

      it("fails with CONNECTION within the connect timeout when no server of the list fits", async () => {
        // The test server is no standby.
        const started = Date.now();
        const error = await expectStoreError(
          connect({
            ...server,
            hosts: [
              { host: server.host, port: server.port },
              { host: "127.0.0.1", port: deadPort },
            ],
            targetSessionAttrs: "standby",
            connectTimeoutSeconds: 2,
          }),
          "CONNECTION",
        );
        expect(Date.now() - started).toBeLessThan(8000);
        expect(error.message).toContain(`127.0.0.1:${deadPort}`);
      });

      it("sends the statement and lock timeouts, 0 turning off a role's own", async () => {
        const connection = await connect({ ...server, statementTimeoutSeconds: 0.25, lockTimeoutSeconds: 0 });
        try {
          expect(await settingOf(connection, "statement_timeout")).toBe("250ms");
          expect(await settingOf(connection, "lock_timeout")).toBe("0");
          expect(await settingOf(connection, "application_name")).toBe("drizzle-workflow-store");
        } finally {
          await connection.close();
        }
      });
    });
  }

  it("node-postgres: a server that takes no writes fails writes with CONNECTION, and the walk passes it by", async () => {
    const readOnly = await freshDatabase("multi_host_read_only");
    try {
      const { client } = readOnly.connect();
      const name = new URL(readOnly.url).pathname.slice(1);
      await createPostgresStore(readOnly.url).then((store) => store.close());
      await client.unsafe(`alter database "${name}" set default_transaction_read_only = on`);
      const plain = await connectNodePostgres(readOnly.url);
      try {
        const store = await createStoreWithDb(plain.db, { autoMigrate: false });
        const error = await expectStoreError(store.set("/multi-host/", "k", Buffer.from("v")), "CONNECTION");
        expect(error.message).toContain("25006");
        await store.close();
      } finally {
        await plain.close();
      }
      const error = await expectStoreError(
        connectNodePostgres({ ...parseDsn(readOnly.url), targetSessionAttrs: "read-write", connectTimeoutSeconds: 1 }),
        "CONNECTION",
      );
      expect(error.message).toContain("read-write");
    } finally {
      await readOnly.drop();
    }
  });
});
