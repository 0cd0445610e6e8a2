import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore, createStoreWithDb, type Store } from "../src/index.js";
import { collect, expectStoreError, freshPrefix } from "../src/testing/index.js";
import { cli } from "./support/cli.js";
import { freePort } from "./support/ports.js";
import { type ReplicatedPair, replicationUnavailable, startReplicatedPair } from "./support/replication.js";

const unavailable = replicationUnavailable();
const bytes = (text: string) => Buffer.from(text);

/** What each listing call sees of `prefix`, read with `consistency`. */
async function listed(store: Store, prefix: string, consistency: "primary" | "replica") {
  const keys: string[] = [];
  await store.list(prefix, (key) => void keys.push(key), { consistency });
  return {
    keys: await collect(store.keys(prefix, { consistency })),
    entries: (await collect(store.entries(prefix, { consistency }))).map((entry) => entry.key),
    keyStats: (await collect(store.keyStats(prefix, { consistency }))).map((stat) => stat.key),
    count: await store.count(prefix, { consistency }),
    list: keys,
  };
}

function everywhere(keys: string[]) {
  return { keys, entries: keys, keyStats: keys, count: keys.length, list: keys };
}

describe.skipIf(unavailable !== undefined)(
  `read replicas: a streaming standby made with pg_basebackup${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    let pair: ReplicatedPair;
    let store: Store;
    beforeAll(async () => {
      pair = await startReplicatedPair();
      store = await createPostgresStore(pair.primaryUrl, { readReplicas: [pair.standbyUrl], maxReplicaLagSeconds: 60 });
    }, 60_000);
    afterAll(async () => {
      await store?.close();
      await pair?.stop();
    });

    /** `before` is on the standby; then replay stops, and `after` is written on the primary only. */
    async function withReplayPaused(prefix: string, run: () => Promise<void>): Promise<void> {
      await store.set(prefix, "before", bytes("1"));
      await pair.caughtUp();
      await pair.pauseReplay();
      try {
        await store.set(prefix, "after", bytes("2"));
        await run();
      } finally {
        await pair.resumeReplay();
      }
    }

    it.sequential("reads with consistency replica from the standby; by default, and get and CAS, from the primary", async () => {
      const prefix = freshPrefix("replica");
      await withReplayPaused(prefix, async () => {
        expect(await listed(store, prefix, "replica")).toEqual(everywhere(["before"]));
        // Read-your-writes by default.
        expect(await listed(store, prefix, "primary")).toEqual(everywhere(["after", "before"]));
        expect(await store.count(prefix)).toBe(2);
        expect(await collect(store.keys(prefix))).toEqual(["after", "before"]);
        // Point reads and compare-and-set never leave the primary.
        expect((await store.get(prefix, "after"))?.toString()).toBe("2");
        const current = await store.getWithRevision(prefix, "after");
        expect(await store.setIf(prefix, "after", bytes("3"), { revision: current?.revision ?? -1 })).toBeGreaterThan(
          current?.revision ?? 0,
        );
        // In a transaction, everything stays on the primary, replica or not.
        await store.transaction(async (tx) => {
          await tx.set(prefix, "in-tx", bytes("t"));
          expect(await collect(tx.keys(prefix, { consistency: "replica" }))).toEqual(["after", "before", "in-tx"]);
          expect(await tx.count(prefix, { consistency: "replica" })).toBe(3);
        });
      });
    });

    it.sequential("passes by a standby further behind than maxReplicaLagSeconds, reading the primary", async () => {
      const strict = await createPostgresStore(pair.primaryUrl, {
        readReplicas: [pair.standbyUrl],
        maxReplicaLagSeconds: 0.2,
      });
      try {
        const prefix = freshPrefix("lagging");
        await withReplayPaused(prefix, async () => {
          // The lag is measured at most once a second: after that, the standby is behind by more.
          await new Promise((resolve) => setTimeout(resolve, 1500));
          expect(await listed(strict, prefix, "replica")).toEqual(everywhere(["after", "before"]));
        });
      } finally {
        await strict.close();
      }
    });

    it.sequential("reads the primary, within the connect timeout, while the standby is down, and the standby again once it is back", async () => {
      const prefix = freshPrefix("down");
      await store.set(prefix, "k", bytes("1"));
      await pair.haltStandby();
      try {
        const started = Date.now();
        expect(await listed(store, prefix, "replica")).toEqual(everywhere(["k"]));
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await pair.startStandby();
      }
      // A standby that failed is passed by for 5 s, then read again.
      await new Promise((resolve) => setTimeout(resolve, 5500));
      await withReplayPaused(prefix, async () => {
        expect(await store.count(prefix, { consistency: "replica" })).toBe(2);
      });
    }, 30_000);

    it.sequential("takes an app's own Drizzle database on the standby, under a store on node-postgres", async () => {
      const primary = new pg.Pool({ connectionString: pair.primaryUrl, max: 2 });
      const standby = new pg.Pool({ connectionString: pair.standbyUrl, max: 2 });
      const own = await createStoreWithDb(drizzlePg({ client: primary }), {
        readReplicas: [drizzlePg({ client: standby })],
        maxReplicaLagSeconds: 60,
      });
      try {
        const prefix = freshPrefix("own-db");
        await own.set(prefix, "before", bytes("1"));
        await pair.caughtUp();
        await pair.pauseReplay();
        try {
          await own.set(prefix, "after", bytes("2"));
          expect(await collect(own.keys(prefix, { consistency: "replica" }))).toEqual(["before"]);
          expect(await collect(own.keys(prefix))).toEqual(["after", "before"]);
        } finally {
          await pair.resumeReplay();
        }
      } finally {
        await own.close();
        // The app's pools stay open: the store did not open them.
        expect((await standby.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
        await Promise.all([primary.end(), standby.end()]);
      }
    });

    it.sequential("the command's ls, count and stats read the --replica standby", async () => {
      const prefix = freshPrefix("cli");
      await withReplayPaused(prefix, async () => {
        const onStandby = ["--url", pair.primaryUrl, "--replica", pair.standbyUrl];
        const onPrimary = ["--url", pair.primaryUrl];
        const keysOf = (out: string) =>
          out
            .trim()
            .split("\n")
            .map((line) => line.split("\t")[0]);
        expect(keysOf((await cli([...onStandby, "ls", prefix])).out)).toEqual(["before"]);
        expect(keysOf((await cli([...onPrimary, "ls", prefix])).out)).toEqual(["after", "before"]);
        expect((await cli([...onStandby, "count", prefix])).out).toBe("1\n");
        expect((await cli([...onPrimary, "count", prefix])).out).toBe("2\n");
        const rowsOf = async (args: string[]) => {
          const { code, out } = await cli([...args, "stats", "--top", "100000", "--json"]);
          expect(code).toBe(0);
          const rows = out
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line) as { prefix: string; rows: number });
          return rows.find((row) => row.prefix === prefix)?.rows;
        };
        expect(await rowsOf(onStandby)).toBe(1);
        expect(await rowsOf(onPrimary)).toBe(2);
      });
    });

    it("refuses readReplicas it cannot use with CONFIG, before it connects to anything", async () => {
      // Nothing listens on the primary's port: the options are refused before any connection is tried.
      const nowhere = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
      for (const options of [
        { readReplicas: "postgres://standby" as never },
        { readReplicas: [42 as never] },
        { readReplicas: ["host=standby port=not-a-port"] },
        { readReplicas: [pair.standbyUrl], maxReplicaLagSeconds: -1 },
      ]) {
        await expectStoreError(createPostgresStore(nowhere, options), "CONFIG");
        const pool = new pg.Pool({ connectionString: nowhere });
        await expectStoreError(createStoreWithDb(drizzlePg({ client: pool }), options), "CONFIG");
        await pool.end();
      }
      const pglite = new PGlite();
      try {
        const error = await expectStoreError(
          createStoreWithDb(drizzlePglite({ client: pglite }), { readReplicas: [pair.standbyUrl] }),
          "CONFIG",
        );
        expect(error.message).toContain("embedded");
        // Nothing was written: the store's table was never made.
        expect((await pglite.query("select to_regclass('workflow_store') as t")).rows).toEqual([{ t: null }]);
      } finally {
        await pglite.close();
      }
    });
  },
);
