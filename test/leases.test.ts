import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore, createStoreWithDb, type Lease, MemoryStore, migrate, type Store } from "../src/index.js";
import { expectStoreError, freshPrefix } from "../src/testing/index.js";
import { childScript } from "./support/child-scripts.js";
import { pgBouncerUnavailable, startPgBouncer } from "./support/pgbouncer.js";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";
import { cleanEnv } from "./support/processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const WORKERS = 8;
/** Far longer than a holder holds: an overlap in the race can only be the lease's fault, never a slow holder's. */
const RACE_TTL_MS = 10_000;

/**
 * The resource the lease guards, as whoever receives work done under a lease sees it. `enter` and
 * `exit` answer what went wrong, or undefined: a holder whose token is not greater than the last
 * one's, or who is not alone.
 */
interface Fence {
  enter(token: number): Promise<string | undefined>;
  exit(token: number): Promise<string | undefined>;
}

/** A fence in this process's memory, for workers that share one. */
function memoryFence(): Fence {
  let last = 0;
  let holders = 0;
  return {
    enter: async (token) => {
      const stale = token <= last ? `token ${token} entered after token ${last}` : undefined;
      last = Math.max(last, token);
      holders++;
      return stale ?? (holders === 1 ? undefined : `token ${token} entered while ${holders - 1} others held`);
    },
    exit: async (token) => {
      holders--;
      if (last !== token) return `token ${token} left after token ${last} entered`;
      return holders === 0 ? undefined : `token ${token} left with ${holders} others holding`;
    },
  };
}

/**
 * A fence in a row of PostgreSQL, on a connection of its own: a holder enters only with a token
 * greater than the last one's (the guard a fenced resource applies), and counts itself in and out.
 * One row per lease name, so that races on one database keep to their own.
 */
async function postgresFence(client: postgres.Sql, name: string): Promise<Fence> {
  await client`create table if not exists dws_test_fence (name text primary key, token bigint not null, holders int not null)`;
  await client`insert into dws_test_fence values (${name}, 0, 0)`;
  return {
    enter: async (token) => {
      const [row] = await client<{ holders: number }[]>`
        update dws_test_fence set token = ${token}, holders = holders + 1
        where name = ${name} and token < ${token} returning holders`;
      if (row === undefined) return `token ${token} was refused: a greater or equal token entered before it`;
      return row.holders === 1 ? undefined : `token ${token} entered while ${row.holders - 1} others held`;
    },
    exit: async (token) => {
      const [row] = await client<{ holders: number }[]>`
        update dws_test_fence set holders = holders - 1 where name = ${name} and token = ${token} returning holders`;
      if (row === undefined) return `token ${token} left after a greater token entered`;
      return row.holders === 0 ? undefined : `token ${token} left with ${row.holders} others holding`;
    },
  };
}

interface RaceResult {
  /** Tokens in the order their holders entered the fence. */
  tokens: number[];
  /** How many holds each worker had. */
  holds: number[];
  violations: string[];
}

/**
 * `stores.length` workers race for the lease `name` for `durationMs`: take it, enter the fence,
 * hold it a moment (renewing it now and then), leave the fence, release it, and again. What goes
 * wrong is collected rather than thrown, so that every worker stops cleanly and the test reports it all.
 */
async function race(stores: Store[], name: string, fence: Fence, durationMs: number): Promise<RaceResult> {
  const deadline = Date.now() + durationMs;
  const result: RaceResult = { tokens: [], holds: stores.map(() => 0), violations: [] };
  const note = (violation: string | undefined) => {
    if (violation !== undefined) result.violations.push(violation);
  };
  await Promise.all(
    stores.map(async (store, worker) => {
      while (Date.now() < deadline) {
        let lease: Lease | null;
        try {
          lease = await store.acquireLease(name, { ttlMs: RACE_TTL_MS });
        } catch (error) {
          note(`worker ${worker}: acquire failed: ${error}`);
          return;
        }
        if (lease === null) {
          await sleep(Math.random() * 2);
          continue;
        }
        result.holds[worker] = (result.holds[worker] ?? 0) + 1;
        result.tokens.push(lease.token);
        note(await fence.enter(lease.token));
        try {
          await sleep(Math.random() * 3);
          if (Math.random() < 0.3) await lease.renew();
        } catch (error) {
          note(`worker ${worker}: renew of token ${lease.token} failed: ${error}`);
        }
        note(await fence.exit(lease.token));
        await lease.release().catch((error: unknown) => note(`worker ${worker}: release failed: ${error}`));
        // Let the others try before this worker does again: in one process, it would always win.
        await sleep(Math.random() * 2);
      }
    }),
  );
  return result;
}

function expectFair(result: RaceResult): void {
  expect(result.violations).toEqual([]);
  for (let i = 1; i < result.tokens.length; i++) {
    expect(result.tokens[i], `hold ${i}`).toBeGreaterThan(result.tokens[i - 1] as number);
  }
  // A race in which one worker held every time would test nothing.
  expect(result.tokens.length).toBeGreaterThanOrEqual(20);
  expect(result.holds.filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);
}

describe("leases on MemoryStore", () => {
  it(`never give one lease to two of ${WORKERS} racing workers at once, and tokens grow with every holder`, async () => {
    const store = new MemoryStore();
    const result = await race(
      Array.from({ length: WORKERS }, () => store),
      freshPrefix("lease"),
      memoryFence(),
      1_500,
    );
    expectFair(result);
    expect(result.holds.every((count) => count > 0)).toBe(true);
    await store.close();
  });
});

describe.skipIf(databaseUrl === null)(`leases on PostgreSQL${skipReason}`, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const stores: Store[] = [];
  const open = async (url: string, options: Parameters<typeof createPostgresStore>[1] = {}) => {
    const store = await createPostgresStore(url, options);
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    database = await freshDatabase("leases");
    await migrate(database.connect().db);
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it(`never gives one lease to two of ${WORKERS} racing stores at once, and tokens grow with every holder`, async () => {
    // Each store with a pool of its own, as in separate processes.
    const racers = await Promise.all(Array.from({ length: WORKERS }, () => open(`${database.url}?pool_max=2`)));
    const name = freshPrefix("lease");
    const fence = await postgresFence(database.connect().client, name);
    const result = await race(racers, name, fence, 2_000);
    expectFair(result);
    expect(result.holds.every((count) => count > 0)).toBe(true);
  });

  it("gives a greater token to an acquirer that waited on the row while others took the lease and gave it up", async () => {
    const store = await open(database.url);
    const name = freshPrefix("lease");
    const watcher = database.connect().client;
    let waiting: Promise<Lease | null> | undefined;
    // Two holders, one after the other, in a transaction that the acquirer waits on: it asked
    // before the second holder did, and gets the lease after it. A busy server can order any
    // acquirers so; the transaction only makes it certain.
    const second = await database.connect().db.transaction(async (tx) => {
      const inTransaction = await createStoreWithDb(tx, { autoMigrate: false });
      const first = await inTransaction.acquireLease(name, { ttlMs: RACE_TTL_MS });
      if (first === null) throw new Error("the lease was expected to be free");
      waiting = store.acquireLease(name, { ttlMs: RACE_TTL_MS });
      for (let tries = 0; ; tries++) {
        const blocked = await watcher`select 1 from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%workflow_store_leases%'`;
        if (blocked.length > 0) break;
        if (tries > 200) throw new Error("the acquirer never waited on the row");
        await sleep(10);
      }
      await first.release();
      const next = await inTransaction.acquireLease(name, { ttlMs: RACE_TTL_MS });
      if (next === null) throw new Error("the released lease was expected to be free");
      await next.release();
      return next;
    });
    const last = await waiting;
    expect(last?.token).toBeGreaterThan(second.token);
    await last?.release();
  });

  it("passes a killed holder's lease on once its ttl ran out, and not before", async () => {
    const name = freshPrefix("lease");
    const ttlMs = 1_000;
    const child: ChildProcessWithoutNullStreams = spawn(
      process.execPath,
      [childScript("lease-child"), database.url, name, String(ttlMs)],
      { cwd: root, env: cleanEnv(), stdio: ["pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(child, "close");
    try {
      const [line] = (await Promise.race([
        once(createInterface({ input: child.stdout }), "line"),
        exited.then(() => {
          throw new Error(`the child ended before holding the lease: ${stderr}`);
        }),
      ])) as [string];
      const [state, token, expiresAt] = line.split(" ");
      expect(state, line).toBe("held");
      const held = { token: Number(token), expiresAt: Number(expiresAt) };

      const store = await open(database.url);
      expect(await store.acquireLease(name, { ttlMs: 5_000 })).toBeNull();
      child.kill("SIGKILL");
      await exited;
      // Its connection is gone; its row is not, until it expires.
      expect(await store.acquireLease(name, { ttlMs: 5_000 })).toBeNull();

      let next: Lease | null = null;
      const giveUp = Date.now() + 10_000;
      while (next === null && Date.now() < giveUp) {
        await sleep(25);
        next = await store.acquireLease(name, { ttlMs: 5_000 });
      }
      if (next === null) throw new Error("the killed holder's lease never passed on");
      expect(next.token).toBeGreaterThan(held.token);
      // On the database's clock, taken when the child's lease had expired.
      expect(next.expiresAt.getTime() - 5_000).toBeGreaterThanOrEqual(held.expiresAt);
      await next.release();
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("works with prepare: false, as behind a transaction-mode pooler", async () => {
    const store = await open(database.url, { prepare: false });
    const name = freshPrefix("lease");
    const lease = await store.acquireLease(name, { ttlMs: 5_000 });
    if (lease === null) throw new Error("the lease was expected to be free");
    expect(await store.acquireLease(name, { ttlMs: 5_000 })).toBeNull();
    await lease.renew();
    await lease.release();
    await expectStoreError(lease.renew(), "CONFLICT");
    const next = await store.acquireLease(name, { ttlMs: 5_000 });
    expect(next?.token).toBeGreaterThan(lease.token);
    await next?.release();
  });

  const noBouncer = pgBouncerUnavailable();
  describe.skipIf(noBouncer !== undefined)(
    `through PgBouncer in transaction mode${noBouncer === undefined ? "" : ` (skipped: ${noBouncer})`}`,
    () => {
      let bouncer: Awaited<ReturnType<typeof startPgBouncer>> | undefined;
      afterAll(async () => {
        await bouncer?.stop();
      });

      it(`keeps ${WORKERS} racing stores apart on 2 shared server connections`, async () => {
        bouncer = await startPgBouncer(database.url);
        const url = bouncer.url(new URL(database.url).pathname.slice(1));
        const racers = await Promise.all(
          Array.from({ length: WORKERS }, () => open(`${url}?pool_max=2`, { prepare: false })),
        );
        const name = freshPrefix("lease");
        const fence = await postgresFence(database.connect().client, name);
        const result = await race(racers, name, fence, 1_000);
        expectFair(result);
      });
    },
  );
});
