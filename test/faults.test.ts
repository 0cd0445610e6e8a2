import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectPostgres,
  createPostgresStore,
  createStoreWithDb,
  type PostgresConfig,
  parseDsn,
  type Store,
  StoreError,
} from "../src/index.js";
import { type OwnServer, ownServerUnavailable, startOwnServer } from "./support/own-server.js";
import { freePort } from "./support/ports.js";
import { databaseUrl, faultTolerantClient, freshDatabase, skipReason } from "./support/postgres.js";

/** Small, so that a call that waits for a connection fails soon. */
const CONNECT_TIMEOUT_SECONDS = 3;
/**
 * Every call must settle within the connect timeout; the margin covers the store's wait before
 * reconnecting (at most a second) and a loaded machine.
 */
const SETTLE_WITHIN_MS = CONNECT_TIMEOUT_SECONDS * 1000 + 2000;

const silent = { onnotice: () => {} };

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An application_name no other test uses, to find (and kill) this store's connections. */
function uniqueName(label: string): string {
  return `dws-${label}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(StoreError);
      return error as StoreError;
    },
  );
}

interface LoadResult {
  /** Keys whose write resolved; each was written with its own name as the value. */
  written: string[];
  /** How many calls failed, by `StoreError` code (anything else is named as such). */
  failures: Map<string, number>;
  /** Calls still pending when the load stopped and had SETTLE_WITHIN_MS more to settle. */
  pending: number;
  /** The longest any settled call took, in milliseconds. */
  slowest: number;
}

/**
 * `callers` loops writing keys of their own through one store, one call at a time each; every
 * `transactionEvery`-th call of a caller writes in a transaction. A caller that gets `CLOSED`
 * stops; one that gets another failure waits 10 ms, as a caller would, and goes on.
 */
function startLoad(store: Store, prefix: string, { callers = 32, transactionEvery = 0 } = {}) {
  let running = true;
  let next = 0;
  let slowest = 0;
  const pending = new Set<number>();
  const written: string[] = [];
  const failures = new Map<string, number>();
  const loops = Array.from({ length: callers }, async (_, caller) => {
    for (let n = 1; running; n++) {
      const key = `c${caller}-${n}`;
      const value = Buffer.from(key);
      const call = next++;
      const started = Date.now();
      pending.add(call);
      try {
        if (transactionEvery > 0 && n % transactionEvery === 0) {
          await store.transaction((tx) => tx.set(prefix, key, value));
        } else {
          await store.set(prefix, key, value);
        }
        written.push(key);
      } catch (error) {
        const kind = error instanceof StoreError ? error.code : `not a StoreError: ${String(error)}`;
        failures.set(kind, (failures.get(kind) ?? 0) + 1);
        if (kind === "CLOSED") return;
        await pause(10);
      } finally {
        pending.delete(call);
        slowest = Math.max(slowest, Date.now() - started);
      }
    }
  });
  return {
    /** Stops making calls, and gives those in flight SETTLE_WITHIN_MS to settle. */
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.race([Promise.all(loops), pause(SETTLE_WITHIN_MS)]);
      return { written, failures, pending: pending.size, slowest };
    },
  };
}

/** Failures other than the ones a lost connection (or a closed store) may give. */
function unexpected(result: LoadResult, allowed: string[]): string[] {
  return [...result.failures.keys()].filter((kind) => !allowed.includes(kind));
}

/** Every key whose write resolved is in the table, with its value. */
async function expectWritten(admin: postgres.Sql, prefix: string, written: string[]): Promise<void> {
  const rows = await admin<{ key: string; value: Buffer }[]>`
    select key, value from workflow_store where prefix = ${prefix}`;
  const stored = new Map(rows.map((row) => [row.key, row.value.toString()]));
  const lost = written.filter((key) => stored.get(key) !== key);
  expect(lost).toEqual([]);
}

async function killConnections(admin: postgres.Sql, applicationName: string): Promise<number> {
  const killed = await admin`
    select pg_terminate_backend(pid) from pg_stat_activity
    where application_name = ${applicationName} and pid <> pg_backend_pid()`;
  return killed.length;
}

/** Waits (up to 5 s: a backend leaves a moment after its client) until no connection of the name is left. */
async function connectionsLeft(admin: postgres.Sql, applicationName: string): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const [row] = await admin<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where application_name = ${applicationName}`;
    const left = row?.n ?? 0;
    if (left === 0 || Date.now() > deadline) return left;
    await pause(100);
  }
}

/** Holds a row lock in an open transaction of `admin` until the returned function is called. */
async function holdRowLock(admin: postgres.Sql, prefix: string, key: string): Promise<() => Promise<void>> {
  let release = () => {};
  let locked = () => {};
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const transaction = admin.begin(async (tx) => {
    await tx`select 1 from workflow_store where prefix = ${prefix} and key = ${key} for update`;
    locked();
    await new Promise<void>((resolve) => {
      release = resolve;
    });
  });
  await isLocked;
  return async () => {
    release();
    await transaction;
  };
}

/**
 * A store whose connections are killed while 32 callers write through it, three times 300 ms
 * apart: every call settles, later calls work, and no acknowledged write is lost. A lost call is
 * a matter of timing, so the scenario runs `rounds` times on the same store.
 */
async function survivesKills(store: Store, applicationName: string, transactionEvery: number, rounds: number) {
  for (let round = 0; round < rounds; round++) await killRound(store, applicationName, transactionEvery);
}

async function killRound(store: Store, applicationName: string, transactionEvery: number) {
  const prefix = `/faults/kill/${randomUUID()}`;
  const admin = postgres(databaseUrl ?? "", { max: 1, ...silent });
  try {
    const load = startLoad(store, prefix, { callers: 32, transactionEvery });
    await pause(300);
    let killed = 0;
    for (let i = 0; i < 3; i++) {
      killed += await killConnections(admin, applicationName);
      await pause(300);
    }
    const result = await load.stop();
    expect(killed).toBeGreaterThan(0);
    expect(result.pending).toBe(0);
    expect(result.slowest).toBeLessThan(SETTLE_WITHIN_MS);
    expect(unexpected(result, ["CONNECTION"])).toEqual([]);
    expect(result.written.length).toBeGreaterThan(0);
    // The same store, not a new one, goes on working.
    for (let i = 0; i < 10; i++) await store.set(prefix, `after-${i}`, Buffer.from(`after-${i}`));
    if (transactionEvery > 0) await store.transaction((tx) => tx.set(prefix, "after-tx", Buffer.from("after-tx")));
    await expectWritten(admin, prefix, [...result.written, "after-0", "after-9"]);
  } finally {
    await admin.end();
  }
}

// The groups of this file run side by side, as their cases mostly wait (for timeouts, graces,
// reconnects and restarts). Each case has its own store, prefix and application_name; the cases
// that load and kill connections, or restart a server, run one after another within their group.
describe
  .skipIf(databaseUrl === null)
  .concurrent(`lost connections, timeouts and close on PostgreSQL${skipReason}`, () => {
    const url = databaseUrl ?? "";

    describe("killed connections", () => {
      it.sequential("settles every call in flight when the store's connections are killed, and goes on working", async () => {
        const applicationName = uniqueName("kill");
        const store = await createPostgresStore({
          ...parseDsn(url),
          applicationName,
          connectTimeoutSeconds: CONNECT_TIMEOUT_SECONDS,
        });
        try {
          // Transactions too: they run on a pool of their own, and must neither hang nor end the process.
          await survivesKills(store, applicationName, 4, 3);
        } finally {
          await store.close();
        }
      });

      it.sequential("does the same for a store over an app's database opened with connectPostgres, transactions too", async () => {
        const applicationName = uniqueName("kill-connect");
        const connection = await connectPostgres({
          ...parseDsn(url),
          applicationName,
          connectTimeoutSeconds: CONNECT_TIMEOUT_SECONDS,
        });
        try {
          await survivesKills(await createStoreWithDb(connection.db), applicationName, 4, 2);
        } finally {
          await connection.close();
        }
      });

      it.sequential("does the same on an app's own postgres.js client with max_pipeline: 1 and a short backoff", async () => {
        const applicationName = uniqueName("kill-own");
        const client = postgres(url, {
          ...faultTolerantClient,
          max: 10,
          connect_timeout: CONNECT_TIMEOUT_SECONDS,
          connection: { application_name: applicationName },
          ...silent,
        });
        try {
          const store = await createStoreWithDb(drizzle({ client }));
          // Single calls only: with max_pipeline: 1, postgres.js 3.4.9 can send a BEGIN behind another
          // query without reserving the connection (porsager/postgres#1189), so concurrent transactions
          // on such a client fail with UNSAFE_TRANSACTION.
          await survivesKills(store, applicationName, 0, 2);
        } finally {
          await client.end({ timeout: 1 });
        }
      });
    });

    describe("statementTimeoutSeconds and lockTimeoutSeconds", () => {
      let admin: postgres.Sql;
      beforeAll(() => {
        admin = postgres(url, { max: 4, ...silent });
      });
      afterAll(() => admin?.end());

      it("are sent as the session's statement_timeout and lock_timeout, on both pools; unset, the server's own apply", async () => {
        const settings = sql`select current_setting('statement_timeout') as statement, current_setting('lock_timeout') as lock`;
        const timed = await connectPostgres({
          ...parseDsn(url),
          statementTimeoutSeconds: 1.5,
          lockTimeoutSeconds: 0.25,
        });
        const plain = await connectPostgres(url);
        try {
          const expected = [{ statement: "1500ms", lock: "250ms" }];
          expect(await timed.db.execute(settings)).toEqual(expected);
          expect(await timed.db.transaction((tx) => tx.execute(settings))).toEqual(expected);
          expect(await plain.db.execute(settings)).toEqual([{ statement: "0", lock: "0" }]);
        } finally {
          await timed.close();
          await plain.close();
        }
      });

      it("take 0 as off, over a limit the database sets", async () => {
        const settings = sql`select current_setting('statement_timeout') as statement, current_setting('lock_timeout') as lock`;
        const database = await freshDatabase("timeouts");
        try {
          await admin.unsafe(`alter database "${parseDsn(database.url).database}" set statement_timeout = '5s'`);
          await admin.unsafe(`alter database "${parseDsn(database.url).database}" set lock_timeout = '2s'`);
          const inherited = await connectPostgres(database.url);
          const off = await connectPostgres({
            ...parseDsn(database.url),
            statementTimeoutSeconds: 0,
            lockTimeoutSeconds: 0,
          });
          try {
            expect(await inherited.db.execute(settings)).toEqual([{ statement: "5s", lock: "2s" }]);
            expect(await off.db.execute(settings)).toEqual([{ statement: "0", lock: "0" }]);
          } finally {
            await inherited.close();
            await off.close();
          }
        } finally {
          await database.drop();
        }
      });

      it("fail a call that waits too long for a row lock with TIMEOUT, and the store goes on", async () => {
        const prefix = `/faults/lock/${randomUUID()}`;
        const store = await createPostgresStore({
          ...parseDsn(url),
          lockTimeoutSeconds: 1,
          statementTimeoutSeconds: 20,
        });
        try {
          await store.set(prefix, "k", Buffer.from("before"));
          const release = await holdRowLock(admin, prefix, "k");
          try {
            const error = await rejection(store.set(prefix, "k", Buffer.from("blocked")));
            expect(error.code).toBe("TIMEOUT");
            expect(error.op).toBe("set");
            expect((error.cause as { code?: string }).code).toBe("55P03");
            // Inside a transaction the work gets the same error, and the transaction rolls back.
            const inTransaction = await rejection(
              store.transaction(async (tx) => {
                await tx.set(prefix, "other", Buffer.from("rolled back"));
                await tx.set(prefix, "k", Buffer.from("blocked"));
              }),
            );
            expect(inTransaction.code).toBe("TIMEOUT");
          } finally {
            await release();
          }
          expect(await store.get(prefix, "other")).toBeNull();
          await store.set(prefix, "k", Buffer.from("after"));
          expect((await store.get(prefix, "k"))?.toString()).toBe("after");
        } finally {
          await store.close();
        }
      });

      it("fail a call that runs too long with TIMEOUT, and the store goes on", async () => {
        const prefix = `/faults/statement/${randomUUID()}`;
        const store = await createPostgresStore({ ...parseDsn(url), statementTimeoutSeconds: 1 });
        try {
          await store.set(prefix, "k", Buffer.from("before"));
          const release = await holdRowLock(admin, prefix, "k");
          try {
            const error = await rejection(store.set(prefix, "k", Buffer.from("blocked")));
            expect(error.code).toBe("TIMEOUT");
            expect((error.cause as { code?: string }).code).toBe("57014");
          } finally {
            await release();
          }
          await store.set(prefix, "k", Buffer.from("after"));
          expect((await store.get(prefix, "k"))?.toString()).toBe("after");
        } finally {
          await store.close();
        }
      });

      it("left unset, let a call wait for a lock as long as it is held", async () => {
        const prefix = `/faults/wait/${randomUUID()}`;
        const store = await createPostgresStore(url);
        try {
          await store.set(prefix, "k", Buffer.from("before"));
          const release = await holdRowLock(admin, prefix, "k");
          let settled = false;
          const blocked = store.set(prefix, "k", Buffer.from("after")).finally(() => {
            settled = true;
          });
          await pause(1500);
          expect(settled).toBe(false);
          await release();
          await blocked;
          expect((await store.get(prefix, "k"))?.toString()).toBe("after");
        } finally {
          await store.close();
        }
      });
    });

    describe("close", () => {
      let admin: postgres.Sql;
      beforeAll(() => {
        admin = postgres(url, { max: 4, ...silent });
      });
      afterAll(() => admin?.end());

      it("lets the calls in flight finish, fails later ones with CLOSED, and ends every connection", async () => {
        const applicationName = uniqueName("close");
        const prefix = `/faults/close/${randomUUID()}`;
        const store = await createPostgresStore({ ...parseDsn(url), applicationName });
        const load = startLoad(store, prefix, { callers: 32, transactionEvery: 4 });
        await pause(200);
        const started = Date.now();
        await store.close();
        const closing = Date.now() - started;
        const result = await load.stop();
        expect(result.pending).toBe(0);
        // A call in flight finishes; only one made after close() fails, with CLOSED.
        expect(unexpected(result, ["CLOSED"])).toEqual([]);
        expect(closing).toBeLessThan(3000);
        await expectWritten(admin, prefix, result.written);
        expect(await connectionsLeft(admin, applicationName)).toBe(0);
      });

      it("fails a call that does not finish with CONNECTION after a 5 s grace, and returns", async () => {
        // 5 s for calls in flight to finish, then up to 1 s for the connections to close.
        const prefix = `/faults/close-hung/${randomUUID()}`;
        const store = await createPostgresStore(url);
        await store.set(prefix, "k", Buffer.from("before"));
        const release = await holdRowLock(admin, prefix, "k");
        try {
          // Without timeouts this call waits as long as the lock is held.
          const blocked = rejection(store.set(prefix, "k", Buffer.from("blocked")));
          await pause(200);
          const started = Date.now();
          await store.close();
          expect(Date.now() - started).toBeLessThan(5000 + 1000 + 2000);
          expect((await blocked).code).toBe("CONNECTION");
        } finally {
          await release();
        }
      });

      it("leaves no connection behind 200 stores opened and closed; a closed store fails calls with CLOSED", async () => {
        const applicationName = uniqueName("churn");
        const prefix = `/faults/churn/${randomUUID()}`;
        const config = { ...parseDsn(url), applicationName, max: 2 };
        const lanes = 4;
        const closed: Store[] = [];
        await Promise.all(
          Array.from({ length: lanes }, async (_, lane) => {
            for (let i = lane; i < 200; i += lanes) {
              const store = await createPostgresStore(config);
              await store.set(prefix, `k${i}`, Buffer.from(String(i)));
              await store.close();
              closed.push(store);
            }
          }),
        );
        expect(await connectionsLeft(admin, applicationName)).toBe(0);
        const [row] = await admin<{ n: number }[]>`
        select count(*)::int as n from workflow_store where prefix = ${prefix}`;
        expect(row?.n).toBe(200);

        const store = closed[0];
        if (store === undefined) throw new Error("no store was made");
        await store.close();
        expect((await rejection(store.get(prefix, "k0"))).code).toBe("CLOSED");
        expect((await rejection(store.set(prefix, "k0", Buffer.from("x")))).code).toBe("CLOSED");
        expect((await rejection(store.transaction((tx) => tx.get(prefix, "k0")))).code).toBe("CLOSED");
        expect((await rejection(store.keys(prefix)[Symbol.asyncIterator]().next())).code).toBe("CLOSED");
      });
    });
  });

describe.concurrent("creating a store when nothing answers", () => {
  it("fails with CONNECTION within connectTimeoutSeconds on a closed port", async () => {
    // The silent port and the port that answers with something else are in postgres.test.ts.
    const port = await freePort();
    const started = Date.now();
    const error = await rejection(createPostgresStore({ host: "127.0.0.1", port, connectTimeoutSeconds: 1 }));
    expect(error.code).toBe("CONNECTION");
    expect(Date.now() - started).toBeLessThan(1000 + 1000);
  });
});

const unavailable = ownServerUnavailable();

describe
  .skipIf(unavailable !== undefined)
  .concurrent(
    `a server of the tests' own that restarts or stops${unavailable ? ` (skipped: ${unavailable})` : ""}`,
    () => {
      let server: OwnServer;
      let admin: postgres.Sql;
      beforeAll(async () => {
        server = await startOwnServer();
      });
      afterAll(() => server?.stop());

      const config = (applicationName: string): Partial<PostgresConfig> => ({
        host: "127.0.0.1",
        port: server.port,
        user: "postgres",
        password: server.password,
        database: "postgres",
        sslMode: "require",
        connectTimeoutSeconds: CONNECT_TIMEOUT_SECONDS,
        applicationName,
      });

      const openAdmin = () =>
        postgres({
          host: "127.0.0.1",
          port: server.port,
          user: "postgres",
          password: server.password,
          database: "postgres",
          ssl: "require",
          max: 1,
          ...silent,
        });

      /** Calls until one succeeds; whether one did within SETTLE_WITHIN_MS. */
      async function recovers(store: Store, prefix: string): Promise<boolean> {
        const deadline = Date.now() + SETTLE_WITHIN_MS;
        while (Date.now() < deadline) {
          const succeeded = await store.set(prefix, "recovered", Buffer.from("recovered")).then(
            () => true,
            () => false,
          );
          if (succeeded) return true;
          await pause(50);
        }
        return false;
      }

      /** A store on the running server, with 16 callers writing through it for 300 ms already. */
      async function storeUnderLoad(label: string) {
        await server.start();
        const prefix = `/faults/${label}/${randomUUID()}`;
        const store = await createPostgresStore(config(uniqueName(label)));
        const load = startLoad(store, prefix, { callers: 16, transactionEvery: 4 });
        await pause(300);
        return { store, prefix, load };
      }

      it.sequential("recovers by itself from a restart under load, settling every call in flight", async () => {
        const { store, prefix, load } = await storeUnderLoad("restart");
        try {
          await server.restart();
          expect(await recovers(store, prefix)).toBe(true);
          await pause(300);
          const result = await load.stop();
          expect(result.pending).toBe(0);
          expect(result.slowest).toBeLessThan(SETTLE_WITHIN_MS);
          expect(unexpected(result, ["CONNECTION"])).toEqual([]);
          admin = openAdmin();
          try {
            await expectWritten(admin, prefix, result.written);
          } finally {
            await admin.end();
          }
        } finally {
          await store.close();
        }
      });

      it.sequential("fails calls with CONNECTION within the connect timeout while the server is stopped, then recovers", async () => {
        const { store, prefix, load } = await storeUnderLoad("stopped");
        try {
          await server.halt();
          for (let i = 0; i < 5; i++) {
            const started = Date.now();
            const error = await rejection(store.set(prefix, `while-stopped-${i}`, Buffer.from("x")));
            expect(error.code).toBe("CONNECTION");
            expect(Date.now() - started).toBeLessThan(SETTLE_WITHIN_MS);
          }
          const result = await load.stop();
          expect(result.pending).toBe(0);
          expect(result.slowest).toBeLessThan(SETTLE_WITHIN_MS);
          expect(unexpected(result, ["CONNECTION"])).toEqual([]);
          await server.start();
          expect(await recovers(store, prefix)).toBe(true);
        } finally {
          await server.start();
          await store.close();
        }
      });

      it.sequential("closes promptly, settling the calls in flight, after the server went away", async () => {
        const { store, load } = await storeUnderLoad("gone");
        try {
          await server.halt();
          const started = Date.now();
          await store.close();
          const closing = Date.now() - started;
          const result = await load.stop();
          expect(closing).toBeLessThan(3000);
          expect(result.pending).toBe(0);
          expect(unexpected(result, ["CONNECTION", "CLOSED"])).toEqual([]);
        } finally {
          await server.start();
        }
      });
    },
  );
