import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createPostgresStore, partitionTable, type Store, type StoreEntry } from "../src/index.js";
import { collect } from "../src/testing/index.js";
import { GO_STORE_DDL, goStore } from "./support/go-store.js";
import { databaseUrl, freshDatabase, freshDatabasePerBlock, skipReason } from "./support/postgres.js";
import { createRole } from "./support/roles.js";

const ZONES = ["UTC", "America/New_York", "Asia/Kolkata"];
const LEVELS = ["database", "role", "session"] as const;
const SECONDS = 1000;

async function entriesOf(store: Store, prefix: string): Promise<Map<string, StoreEntry>> {
  return new Map((await collect(store.entries(prefix))).map((entry) => [entry.key, entry]));
}

function expectNear(date: Date, expected: number, slackMs = 10 * SECONDS): void {
  expect(
    Math.abs(date.getTime() - expected),
    `${date.toISOString()} vs ${new Date(expected).toISOString()}`,
  ).toBeLessThan(slackMs);
}

describe.skipIf(databaseUrl === null)(`a table shared with the Go store${skipReason}`, () => {
  const fresh = freshDatabasePerBlock();

  // Side by side: each waits a second and a half, on a database and role of its own that it drops
  // itself.
  for (const zone of ZONES) {
    for (const level of LEVELS) {
      it.concurrent(`keeps every row at its true age with TimeZone ${zone} set on the Go store's ${level}`, async () => {
        const database = await freshDatabase("go");
        const name = new URL(database.url).pathname.slice(1);
        const { client } = database.connect();
        // The Go store created the table; this store adopts it and migrates it.
        await client.unsafe(GO_STORE_DDL);
        const store = await createPostgresStore(database.url);
        let goUrl = database.url;
        const cleanups: (() => Promise<void>)[] = [];
        if (level === "database") await client.unsafe(`alter database "${name}" set timezone to '${zone}'`);
        if (level === "role") {
          const role = await createRole(database.url, (r) => [
            `grant select, insert, update, delete on workflow_store to "${r}"`,
            `alter role "${r}" set timezone to '${zone}'`,
          ]);
          goUrl = role.url;
          cleanups.push(role.drop);
        }
        const go = goStore(goUrl, level === "session" ? zone : undefined);
        try {
          const [shown] = await go.timeZone();
          expect(shown).toBe(zone);
          const prefix = "/run_context/";
          await go.set(prefix, "go", Buffer.from("from go"));
          await store.set(prefix, "ts", Buffer.from("from ts"));
          // The Go store updates a row this store created.
          await go.set(prefix, "ts", Buffer.from("updated by go"));
          const now = Date.now();
          const rows = await entriesOf(store, prefix);
          for (const key of ["go", "ts"]) {
            const entry = rows.get(key);
            if (entry === undefined) throw new Error(`no row ${key}`);
            expectNear(entry.createdAt, now);
            expectNear(entry.updatedAt, now);
            expect(entry.createdAt.getTime()).toBeLessThanOrEqual(entry.updatedAt.getTime());
          }
          expect(await store.purge({ olderThan: new Date(now - 3600 * SECONDS) })).toBe(0);
          expect(await go.get(prefix, "ts")).toEqual(Buffer.from("updated by go"));
          expect(await go.list(prefix)).toEqual(["go", "ts"]);

          // Written a second and a half apart by the two stores: a cutoff between them removes the older only.
          const aged = "/record/aged";
          await go.set(aged, "older", Buffer.from("go"));
          await sleep(1500);
          const cutoff = new Date(Date.now() - 700);
          await store.set(aged, "newer", Buffer.from("ts"));
          expect(await store.purge({ olderThan: cutoff, prefix: aged })).toBe(1);
          expect(await go.list(aged)).toEqual(["newer"]);
        } finally {
          await go.close();
          await store.close();
          await database.drop();
          for (const cleanup of cleanups) await cleanup();
        }
      });
    }
  }

  // On the table as the Go store made it, and on the table hash-partitioned by prefix.
  for (const partitions of [undefined, 4]) {
    it(`fails none of the Go store's calls, nor this store's, while both write, delete and read the same keys${partitions === undefined ? "" : `, the table in ${partitions} partitions`}`, async () => {
      const database = await fresh("gorace");
      const { client, db } = database.connect();
      await client.unsafe(GO_STORE_DDL);
      const store = await createPostgresStore(database.url);
      if (partitions !== undefined) await partitionTable(db, { partitions });
      const gos = Array.from({ length: 4 }, () => goStore(database.url));
      const prefix = "/run_context/";
      const keys = ["a", "b", "c"];
      const until = Date.now() + 3000;
      const goErrors: string[] = [];
      try {
        // Every kind of write of this store on the same three keys: plain and compare-and-set writes
        // and removes, multi-key transactions, and leases named after the keys.
        const ours = Array.from({ length: 8 }, async (_, worker) => {
          let calls = 0;
          for (let i = 0; Date.now() < until; i++) {
            const key = keys[(worker + i) % keys.length] ?? "a";
            const other = keys[(worker + i + 1) % keys.length] ?? "b";
            switch (i % 6) {
              case 0:
                await store.set(prefix, key, Buffer.from(`ts ${worker} ${i}`));
                break;
              case 1:
                await store.remove(prefix, key);
                break;
              case 2: {
                const current = await store.getWithRevision(prefix, key);
                await store
                  .setIf(prefix, key, Buffer.from("cas"), { revision: current?.revision ?? 0 })
                  .catch((error) => expect(error.code).toBe("CONFLICT"));
                break;
              }
              case 3: {
                const current = await store.getWithRevision(prefix, key);
                if (current !== null) {
                  await store
                    .removeIf(prefix, key, { revision: current.revision })
                    .catch((error) => expect(error.code).toBe("CONFLICT"));
                }
                break;
              }
              case 4:
                // Rows in key order, as transactions that must not deadlock each other take them.
                await store.transaction(async (tx) => {
                  if (key < other) {
                    await tx.set(prefix, key, Buffer.from("tx"));
                    await tx.remove(prefix, other);
                  } else {
                    await tx.remove(prefix, other);
                    await tx.set(prefix, key, Buffer.from("tx"));
                  }
                });
                break;
              default: {
                const lease = await store.acquireLease(`${prefix}${key}`, { ttlMs: 1000 });
                await lease?.release();
              }
            }
            calls++;
          }
          return calls;
        });
        // The Go store has no retry of its own: any error PostgreSQL raises fails its call.
        const theirs = gos.map(async (go, worker) => {
          for (let i = 0; Date.now() < until; i++) {
            const key = keys[(worker + i) % keys.length] ?? "a";
            const call = [
              () => go.remove(prefix, key),
              () => go.set(prefix, key, Buffer.from("go")),
              () => go.get(prefix, key),
              () => go.list(prefix),
            ][i % 4];
            await call?.().catch((error: { code?: string; message?: string }) => {
              goErrors.push(`${error.code}: ${error.message}`);
            });
          }
        });
        const calls = await Promise.all(ours);
        await Promise.all(theirs);
        expect(Math.min(...calls)).toBeGreaterThan(0);
        expect(goErrors).toEqual([]);
        const [row] = await client`select count(*)::int as n from workflow_store where revision <= 0`;
        expect(row?.n).toBe(0);
      } finally {
        for (const go of gos) await go.close();
        await store.close();
        await database.drop();
      }
    });
  }

  it("converts rows written before the migration as UTC: exact for this store's, off by the Go session's offset for the Go store's", async () => {
    const database = await fresh("gobefore");
    const { client } = database.connect();
    await client.unsafe(GO_STORE_DDL);
    const inUtc = goStore(database.url, "UTC");
    const inNewYork = goStore(database.url, "America/New_York");
    try {
      await inUtc.set("/dag/", "utc", Buffer.from("a"));
      await inNewYork.set("/dag/", "new-york", Buffer.from("b"));
      const [offset] = await client`
        select extract(epoch from (now() at time zone 'UTC') - (now() at time zone 'America/New_York'))::int as seconds`;
      const store = await createPostgresStore(database.url);
      try {
        const now = Date.now();
        const rows = await entriesOf(store, "/dag/");
        expectNear(rows.get("utc")?.updatedAt ?? new Date(0), now);
        expectNear(rows.get("new-york")?.updatedAt ?? new Date(0), now - Number(offset?.seconds) * SECONDS);
        // The Go store's statements work on the migrated table.
        await inNewYork.set("/dag/", "new-york", Buffer.from("c"));
        expectNear((await entriesOf(store, "/dag/")).get("new-york")?.updatedAt ?? new Date(0), Date.now());
        await inNewYork.remove("/dag/", "utc");
        expect(await store.get("/dag/", "utc")).toBeNull();
      } finally {
        await store.close();
      }
    } finally {
      await inUtc.close();
      await inNewYork.close();
    }
  });
});
