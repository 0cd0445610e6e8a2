import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import pg from "pg";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { listenPostgresJs } from "../src/drivers/postgres-js/listen.js";
import {
  createPostgresStore,
  createStoreWithDb,
  MemoryStore,
  migrate,
  type Store,
  StoreError,
  type WatchEvent,
} from "../src/index.js";
import { expectStoreError, freshPrefix } from "../src/testing/helpers.js";
import { liveWatch, markRevision, watchReader } from "../src/testing/watch-cases.js";
import { databaseUrl, faultTolerantClient, freshDatabasePerBlock, skipReason } from "./support/postgres.js";
import { createRole } from "./support/roles.js";

const bytes = (text: string) => Buffer.from(text);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds, for up to `waitMs`. */
async function eventually(check: () => Promise<boolean>, what: string, waitMs = 5000): Promise<void> {
  const until = Date.now() + waitMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${waitMs} ms`);
    await pause(20);
  }
}

describe("watch on the memory store", () => {
  it("rejects a resume from before a remove its retention dropped with COMPACTED", async () => {
    const store = new MemoryStore({ changeRetentionMs: 0 });
    const prefix = freshPrefix();
    const from = await markRevision(store, prefix, "doomed");
    await store.remove(prefix, "doomed");
    // A remove kept for no time is dropped by the next commit a millisecond or more later.
    await pause(5);
    await store.set(freshPrefix(), "other", bytes("x"));
    const error = await expectStoreError(store.watch(prefix, { fromRevision: from }).next(), "COMPACTED");
    expect(error.revision).toBeGreaterThan(from);
    const reader = watchReader(store.watch(prefix, { fromRevision: error.revision ?? 0 }));
    const revision = await store.setIf(prefix, "after", bytes("1"), { revision: 0 });
    expect(await reader.take(1)).toEqual([{ type: "set", key: "after", revision }]);
    await reader.iterator.return?.();
  });

  it("delivers what a transaction wrote when it commits, not before", async () => {
    const store = new MemoryStore();
    const prefix = freshPrefix();
    const reader = await liveWatch(store, prefix);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = store.transaction(async (tx) => {
      await tx.set(prefix, "inside", bytes("1"));
      await held;
    });
    expect(await reader.idle(30)).toBe(true);
    release();
    await running;
    expect((await reader.take(1)).map((event) => event.key)).toEqual(["inside"]);
    await reader.iterator.return?.();
  });
});

/** One way of opening a store on a server's database, and what ends what it opened beside the store. */
interface Variant {
  name: string;
  open(url: string): Promise<{ store: Store; end: () => Promise<unknown> }>;
}

const variants: Variant[] = [
  {
    name: "createPostgresStore",
    open: async (url) => ({ store: await createPostgresStore(url), end: async () => {} }),
  },
  {
    name: "node-postgres pool (createStoreWithDb)",
    open: async (url) => {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      // As an app's pool must: an idle client the server ends is an error event of the pool.
      pool.on("error", () => {});
      return { store: await createStoreWithDb(drizzlePg({ client: pool })), end: () => pool.end() };
    },
  },
  {
    name: "postgres.js (createStoreWithDb)",
    open: async (url) => {
      // Set up as docs/design.md tells an app's own client to be, so that its connections can be
      // killed, with an end that does not wait for good once one was lost (porsager/postgres#1097).
      const client = postgres(url, { max: 4, onnotice: () => {}, ...faultTolerantClient });
      return {
        store: await createStoreWithDb(drizzlePostgresJs({ client })),
        end: () => Promise.race([client.end({ timeout: 1 }), pause(2000)]),
      };
    },
  },
];

/** The backends of the database listening on the store's channel, as the server reports them. */
/** How many stores have marked `prefix` as watched, unexpired (workflow_store_watches). */
async function marks(owner: postgres.Sql, prefix: string): Promise<number> {
  return (await owner`select 1 from workflow_store_watches where prefix = ${prefix} and expires_at > now()`).length;
}

function listeners(client: postgres.Sql) {
  return async () =>
    (
      await client<{ pid: number }[]>`select pid from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and query ~* '^\\s*listen\\M'`
    ).map((row) => row.pid);
}

// Side by side: the cases mostly wait for notifications and reconnects, and each has a database
// (and a role, where it needs one) of its own.
describe.skipIf(databaseUrl === null).concurrent(`watch on PostgreSQL${skipReason}`, () => {
  const fresh = freshDatabasePerBlock();

  for (const variant of variants) {
    describe(variant.name, () => {
      it("holds one listening connection for the store, however many watches, and lets it go after the last", async () => {
        const database = await fresh("watch_one");
        const { client: checker } = database.connect();
        const { store, end } = await variant.open(database.url);
        try {
          const prefixes = [freshPrefix(), freshPrefix(), freshPrefix()];
          const readers = await Promise.all([...prefixes, prefixes[0] as string].map((p) => liveWatch(store, p)));
          expect(await listeners(checker)()).toHaveLength(1);
          // Each watch gets its own prefix's changes only.
          const revisions = await Promise.all(prefixes.map((p) => store.setIf(p, "k", bytes("1"), { revision: 0 })));
          for (const [i, reader] of readers.entries()) {
            // The first watch of a prefix sees the marks the other's start wrote too.
            const events = await reader.until((event) => event.key === "k");
            expect(events.at(-1)).toEqual({ type: "set", key: "k", revision: revisions[i % 3] });
          }
          for (const reader of readers) await reader.iterator.return?.();
          await eventually(async () => (await listeners(checker)()).length === 0, "the listening ended");
          // The next watch listens again.
          const again = await liveWatch(store, freshPrefix());
          expect(await listeners(checker)()).toHaveLength(1);
          await again.iterator.return?.();
        } finally {
          await store.close();
          await end();
        }
      });

      it("listens again by itself when the listening connection is lost, delivering what changed meanwhile once", async () => {
        const database = await fresh("watch_lost");
        const { client: checker } = database.connect();
        const { client: writer } = database.connect();
        await writer`select 1`;
        const admin = postgres(databaseUrl as string, { max: 1, onnotice: () => {} });
        const name = new URL(database.url).pathname.slice(1);
        const { store, end } = await variant.open(database.url);
        try {
          const prefix = freshPrefix();
          const reader = await liveWatch(store, prefix);
          const [before] = await listeners(checker)();
          await store.set(prefix, "a", bytes("1"));
          await store.set(prefix, "b", bytes("1"));
          expect((await reader.take(2)).map(({ type, key }) => `${type} ${key}`)).toEqual(["set a", "set b"]);
          // While nobody can connect, the listening connection is killed and the prefix changes.
          await admin.unsafe(`alter database "${name}" allow_connections false`);
          await checker`select pg_terminate_backend(${before as number})`;
          await eventually(async () => !(await listeners(checker)()).includes(before as number), "the kill");
          const go = (sql: string, params: string[]) => writer.unsafe(sql, params);
          await go("update workflow_store set value = 'x' where prefix = $1 and key = $2", [prefix, "a"]);
          await go("delete from workflow_store where prefix = $1 and key = $2", [prefix, "b"]);
          await go("insert into workflow_store (prefix, key, value) values ($1, $2, 'y')", [prefix, "c"]);
          // Reconnecting fails meanwhile, once or more.
          await pause(150);
          await admin.unsafe(`alter database "${name}" allow_connections true`);
          const end1 = await markRevision(store, prefix, "~end");
          const events = await reader.until((event) => event.revision === end1);
          const a = await store.getWithRevision(prefix, "a");
          const c = await store.getWithRevision(prefix, "c");
          expect(events.map(({ type, key }) => `${type} ${key}`)).toEqual(["set a", "remove b", "set c", "set ~end"]);
          expect(events[0]?.revision).toBe(a?.revision);
          expect(events[2]?.revision).toBe(c?.revision);
          expect(events.every((event, i) => i === 0 || event.revision > (events[i - 1] as WatchEvent).revision)).toBe(
            true,
          );
          // The store listens again by itself (a read woken before it did may have delivered the changes).
          await eventually(async () => (await listeners(checker)()).length === 1, "listening again");
          const after = await listeners(checker)();
          expect(after).not.toContain(before);
          // And it stays live.
          const d = await store.setIf(prefix, "d", bytes("1"), { revision: 0 });
          expect(await reader.take(1)).toEqual([{ type: "set", key: "d", revision: d }]);
          await reader.iterator.return?.();
        } finally {
          await admin.unsafe(`alter database "${name}" allow_connections true`);
          await admin.end();
          await store.close();
          await end();
        }
      });

      it("keeps a watch of a busy prefix going when every connection of its store is killed, missing nothing", async () => {
        const database = await fresh("watch_killed");
        const { client: killer } = database.connect();
        const { client: writer } = database.connect();
        const [{ pid: writerPid } = { pid: 0 }] = await writer<{ pid: number }[]>`select pg_backend_pid() as pid`;
        const { store, end } = await variant.open(database.url);
        try {
          const prefix = freshPrefix();
          const reader = await liveWatch(store, prefix);
          const keys = Array.from({ length: 200 }, (_, i) => `k${String(i).padStart(3, "0")}`);
          // Read as they come, and written every 2 ms, so that the watch reads the prefix without
          // waiting, and is reading when the kills come.
          const reading = reader.take(keys.length);
          const writing = (async () => {
            for (const key of keys) {
              await writer`insert into workflow_store (prefix, key, value) values (${prefix}, ${key}, '\x01')`;
              await pause(2);
            }
          })();
          for (let kill = 0; kill < 20; kill++) {
            await pause(15);
            await killer`select pg_terminate_backend(pid) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid() and pid <> ${writerPid}`;
          }
          await writing;
          const events = await reading;
          expect(events.map(({ type, key }) => `${type} ${key}`)).toEqual(keys.map((key) => `set ${key}`));
          await reader.iterator.return?.();
        } finally {
          await store.close();
          await end();
        }
      });

      it("ends its watches with CLOSED when the store closes, and lets the listening connection go", async () => {
        const database = await fresh("watch_close");
        const { client: checker } = database.connect();
        const { store, end } = await variant.open(database.url);
        try {
          const reader = await liveWatch(store, freshPrefix());
          const other = await liveWatch(store, freshPrefix());
          expect(await listeners(checker)()).toHaveLength(1);
          const waiting = Promise.all([
            expectStoreError(reader.next(), "CLOSED"),
            expectStoreError(other.next(), "CLOSED"),
          ]);
          await store.close();
          await waiting;
          await eventually(async () => (await listeners(checker)()).length === 0, "the listening ended");
          await expectStoreError(store.watch(freshPrefix()).next(), "CLOSED");
        } finally {
          await store.close();
          await end();
        }
      });
    });
  }

  it("on a single node-postgres client: listens on it, and ends with an error when its connection is lost", async () => {
    const database = await fresh("watch_client");
    const { client: checker } = database.connect();
    const client = new pg.Client({ connectionString: database.url });
    client.on("error", () => {});
    await client.connect();
    const store = await createStoreWithDb(drizzlePg({ client }));
    try {
      const prefix = freshPrefix();
      const reader = await liveWatch(store, prefix);
      const revision = await store.setIf(prefix, "k", bytes("1"), { revision: 0 });
      expect(await reader.take(1)).toEqual([{ type: "set", key: "k", revision }]);
      const failed = reader.next().then(
        () => undefined,
        (error: unknown) => error,
      );
      // The app's one connection is the listening one: without it, the watch cannot go on.
      const pid = (client as unknown as { processID: number }).processID;
      await checker`select pg_terminate_backend(${pid})`;
      // node-postgres's error then has no code: QUERY, not CONNECTION.
      expect(await failed).toBeInstanceOf(StoreError);
      expect(await reader.next()).toEqual({ done: true, value: undefined });
    } finally {
      await store.close();
      await client.end();
    }
  });

  it("on a node-postgres pool: ends its watches with the server's refusal when the listening connection cannot log in again", async () => {
    const database = await fresh("watch_refused");
    const { client: checker, db } = database.connect();
    await migrate(db);
    const role = await createRole(database.url, (name) => [
      `grant all on all tables in schema public to "${name}"`,
      `grant all on all sequences in schema public to "${name}"`,
      `grant execute on all functions in schema public to "${name}"`,
      `grant usage on schema drizzle to "${name}"`,
      `grant select on drizzle.__workflow_store_migrations to "${name}"`,
    ]);
    const pool = new pg.Pool({ connectionString: role.url, max: 2 });
    const store = await createStoreWithDb(drizzlePg({ client: pool }), { autoMigrate: false });
    try {
      const prefix = freshPrefix();
      const reader = await liveWatch(store, prefix);
      const revision = await store.setIf(prefix, "k", bytes("1"), { revision: 0 });
      expect(await reader.take(1)).toEqual([{ type: "set", key: "k", revision }]);
      const failed = reader.next().then(
        () => undefined,
        (error: unknown) => error,
      );
      // The role may no longer log in: the pool's open connections go on, a new listening one cannot.
      await checker.unsafe(`alter role "${role.name}" nologin`);
      const [listener] = await listeners(checker)();
      await checker`select pg_terminate_backend(${listener as number})`;
      const error = await failed;
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toContain("not permitted to log in");
      expect(await reader.next()).toEqual({ done: true, value: undefined });
    } finally {
      await store.close();
      await pool.end();
      await checker.unsafe(`alter role "${role.name}" login`);
      await database.drop();
      await role.drop();
    }
  });

  describe("a postgres.js listener whose session does not come back", () => {
    /** Listens with postgres.js as `role`, looking for the session every 100 ms; resolves with what ended it. */
    async function listenUntilFailure(url: string, boundMs: number) {
      const client = postgres(url, { max: 2, onnotice: () => {}, ...faultTolerantClient });
      let failed: (error: unknown) => void = () => {};
      const failure = new Promise<unknown>((resolve) => {
        failed = resolve;
      });
      const listen = listenPostgresJs(client as never, "dws_probe", { everyMs: 100, boundMs });
      const stop = await listen(
        () => {},
        () => {},
        (error) => failed(error),
      );
      return { client, failure, stop };
    }

    it("ends with the server's refusal when the role may no longer log in", async () => {
      const database = await fresh("listen_refused");
      const { client: checker } = database.connect();
      const role = await createRole(database.url);
      const { client, failure, stop } = await listenUntilFailure(role.url, 60_000);
      try {
        await checker.unsafe(`alter role "${role.name}" nologin`);
        await checker`select pg_terminate_backend(pid) from pg_stat_activity where usename = ${role.name}`;
        const error = await failure;
        expect((error as { code?: string }).code).toBe("28000");
      } finally {
        await stop().catch(() => {});
        await Promise.race([client.end({ timeout: 1 }), pause(2000)]);
        await checker.unsafe(`alter role "${role.name}" login`);
        await database.drop();
        await role.drop();
      }
    });

    it("ends when its session stays missing past the bound, though the pool still answers", async () => {
      const database = await fresh("listen_missing");
      const { client: checker } = database.connect();
      const admin = postgres(databaseUrl as string, { max: 1, onnotice: () => {} });
      const name = new URL(database.url).pathname.slice(1);
      const { client, failure, stop } = await listenUntilFailure(database.url, 1000);
      try {
        await client`select 1`;
        const [listener] = await listeners(checker)();
        // Nobody can connect, and the listening session is killed; the pool's session lives on.
        await admin.unsafe(`alter database "${name}" allow_connections false`);
        await checker`select pg_terminate_backend(${listener as number})`;
        const error = await failure;
        expect(String((error as Error).message)).toContain("could not be opened again");
      } finally {
        await admin.unsafe(`alter database "${name}" allow_connections true`);
        await admin.end();
        await stop().catch(() => {});
        await Promise.race([client.end({ timeout: 1 }), pause(2000)]);
      }
    });
  });

  it("rejects a watch on a store over a transaction with CONFIG: it has no connection to listen on", async () => {
    const database = await fresh("watch_tx");
    const { db } = database.connect();
    await migrate(db);
    await db
      .transaction(async (tx) => {
        const store = await createStoreWithDb(tx, { autoMigrate: false });
        const error = await expectStoreError(store.watch(freshPrefix()).next(), "CONFIG");
        expect(error.message).toContain("LISTEN");
        throw new Error("roll back");
      })
      .catch(() => {});
  });

  it("delivers the Go store's own writes", async () => {
    const database = await fresh("watch_go");
    const { client: go } = database.connect();
    const store = await createPostgresStore(database.url);
    try {
      const prefix = freshPrefix();
      const reader = await liveWatch(store, prefix);
      const set = (key: string, value: string) =>
        go.unsafe(
          "INSERT INTO workflow_store (prefix, key, value, updated_at) VALUES ($1, $2, $3, CURRENT_TIMESTAMP) ON CONFLICT (prefix, key) DO UPDATE SET value = EXCLUDED.value, updated_at = CURRENT_TIMESTAMP",
          [prefix, key, bytes(value)],
        );
      await set("k", "1");
      const first = await store.getWithRevision(prefix, "k");
      expect(await reader.take(1)).toEqual([{ type: "set", key: "k", revision: first?.revision }]);
      await set("k", "2");
      const second = await store.getWithRevision(prefix, "k");
      expect(await reader.take(1)).toEqual([{ type: "set", key: "k", revision: second?.revision }]);
      await go.unsafe("DELETE FROM workflow_store WHERE prefix = $1 AND key = $2", [prefix, "k"]);
      const [removed] = await reader.take(1);
      expect(removed).toMatchObject({ type: "remove", key: "k" });
      expect(removed?.revision).toBeGreaterThan(second?.revision ?? 0);
      await reader.iterator.return?.();
    } finally {
      await store.close();
    }
  });

  it("delivers the changes of a table the search_path puts outside public", async () => {
    const database = await fresh("watch_path");
    const { client } = database.connect();
    const name = new URL(database.url).pathname.slice(1);
    await client.unsafe(`create schema app; alter database "${name}" set search_path to app`);
    const store = await createPostgresStore(database.url);
    try {
      const [found] = await client.unsafe("select to_regclass('app.workflow_store') is not null as there");
      expect(found?.there).toBe(true);
      const prefix = freshPrefix();
      const reader = await liveWatch(store, prefix);
      const revision = await store.setIf(prefix, "k", bytes("v"), { revision: 0 });
      expect(await reader.take(1)).toEqual([{ type: "set", key: "k", revision }]);
      await reader.iterator.return?.();
    } finally {
      await store.close();
    }
  });

  it("resumes and follows a prefix on a table whose replay index was dropped, as docs/design.md allows", async () => {
    const database = await fresh("watch_no_replay_index");
    const { client: operator } = database.connect();
    const first = await createPostgresStore(database.url);
    await first.close();
    await operator`drop index workflow_store_prefix_revision`;
    const store = await createPostgresStore(database.url);
    try {
      const prefix = freshPrefix();
      const from = await markRevision(store, prefix, "a");
      await store.set(prefix, "b", bytes("1"));
      await store.remove(prefix, "a");
      const reader = watchReader(store.watch(prefix, { fromRevision: from }));
      expect((await reader.take(2)).map(({ type, key }) => `${type} ${key}`)).toEqual(["set b", "remove a"]);
      const revision = await store.setIf(prefix, "c", bytes("2"), { revision: 0 });
      expect(await reader.take(1)).toEqual([{ type: "set", key: "c", revision }]);
      await reader.iterator.return?.();
    } finally {
      await store.close();
    }
  });

  it("rejects a resume from before what the change log dropped with COMPACTED, after the owner shortened its retention", async () => {
    const database = await fresh("watch_compacted");
    const { client: operator } = database.connect();
    const store = await createPostgresStore(database.url);
    try {
      const prefix = freshPrefix();
      const from = await markRevision(store, prefix, "doomed");
      await store.remove(prefix, "doomed");
      const early = store.watch(prefix, { fromRevision: from });
      expect(await early.next()).toMatchObject({ value: { type: "remove", key: "doomed" } });
      await early.return?.();
      // The owner keeps removes for no time: the next delete drops the removes before it.
      await operator`update workflow_store_compaction set retention = '0'`;
      await pause(5);
      await operator`delete from workflow_store where prefix = ${prefix} and key = 'never-there'`;
      const error = await expectStoreError(store.watch(prefix, { fromRevision: from }).next(), "COMPACTED");
      expect(error.message).toContain("list the prefix again");
      const [row] = await operator<{ revision: string }[]>`select revision from workflow_store_compaction`;
      expect(error.revision).toBe(Number(row?.revision));
    } finally {
      await store.close();
    }
  });

  it("keeps the log's retention out of a deleting session's hands: a setting of its own changes nothing", async () => {
    const database = await fresh("watch_retention");
    const { client: owner } = database.connect();
    const store = await createPostgresStore(database.url);
    const role = await createRole(database.url, (name) => [`grant select, delete on workflow_store to "${name}"`]);
    const deleter = postgres(role.url, { max: 1, onnotice: () => {} });
    try {
      const prefix = freshPrefix();
      const from = await markRevision(store, prefix, "first");
      for (const key of ["a", "b", "c", "d"]) await store.set(prefix, key, bytes(key));
      for (const key of ["a", "b", "c"]) await store.remove(prefix, key);
      // What migration 0004 read, set by a role that may delete one row, before its delete.
      await deleter.begin(async (tx) => {
        await tx`set local workflow_store.change_retention = '0'`;
        await tx`delete from workflow_store where prefix = ${prefix} and key = 'd'`;
      });
      const [row] = await owner<{ revision: string }[]>`select revision from workflow_store_compaction`;
      expect(Number(row?.revision)).toBe(0);
      const events: WatchEvent[] = [];
      for await (const event of store.watch(prefix, { fromRevision: from, signal: AbortSignal.timeout(2000) })) {
        events.push(event);
        if (event.type === "remove" && event.key === "d") break;
      }
      expect(events.filter((event) => event.type === "remove").map((event) => event.key)).toEqual(["a", "b", "c", "d"]);
    } finally {
      await deleter.end();
      await store.close();
      await owner.unsafe(`drop owned by "${role.name}"`);
      await role.drop();
    }
  });

  it("notifies only writes of watched prefixes, with nothing in the notification", async () => {
    const database = await fresh("watch_notify");
    const { client: owner } = database.connect();
    const store = await createPostgresStore(database.url);
    // Any role may LISTEN: this one may not even read the table.
    const role = await createRole(database.url);
    const outsider = postgres(role.url, { max: 1, onnotice: () => {} });
    const heard: string[] = [];
    try {
      await outsider.listen("workflow_store", (payload) => heard.push(payload));
      const watched = freshPrefix();
      const reader = await liveWatch(store, watched);
      const unwatched = freshPrefix();
      heard.length = 0;
      await store.set(unwatched, "secret@example.com", bytes("1"));
      await store.remove(unwatched, "secret@example.com");
      await pause(200);
      expect(heard).toEqual([]);
      // A watch that waits for a change has its prefix marked (one that reads anyway takes its mark back).
      const taking = reader.take(1);
      await eventually(async () => (await marks(owner, watched)) === 1, "the mark");
      const revision = await store.setIf(watched, "alice@example.com", bytes("1"), { revision: 0 });
      expect(await taking).toEqual([{ type: "set", key: "alice@example.com", revision }]);
      await eventually(async () => heard.length > 0, "the notification");
      expect(heard.every((payload) => payload === "")).toBe(true);
      await reader.iterator.return?.();
    } finally {
      await outsider.end();
      await store.close();
      await role.drop();
    }
  });

  it("takes the mark of a prefix back while its watch reads changes anyway, and marks it again before it waits", async () => {
    const database = await fresh("watch_busy");
    const { client: owner } = database.connect();
    const store = await createPostgresStore(database.url);
    const writer = await createPostgresStore(database.url);
    try {
      const prefix = freshPrefix();
      const reader = await liveWatch(store, prefix);
      let writing = true;
      let written = 0;
      const busy = (async () => {
        while (writing) await writer.set(prefix, `k${written++ % 50}`, bytes(String(written)));
      })();
      let last = 0;
      const reading = (async () => {
        while (writing) last = (await reader.take(1, 5000))[0]?.revision ?? last;
      })();
      // While every read finds changes, nobody waits on the prefix: its writers need not notify.
      await eventually(async () => (await marks(owner, prefix)) === 0, "the mark taken back");
      writing = false;
      await busy;
      // A last change, so that the reading loop's pending read ends.
      const end = await markRevision(writer, prefix, "~end");
      await reading;
      if (last < end) await reader.until((event) => event.revision >= end);
      // Waiting again: marked again, and a write wakes it.
      const waiting = reader.take(1);
      await eventually(async () => (await marks(owner, prefix)) === 1, "the mark again");
      const revision = await writer.setIf(prefix, "after", bytes("1"), { revision: 0 });
      expect(await waiting).toEqual([{ type: "set", key: "after", revision }]);
      await reader.iterator.return?.();
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it("watches the longest prefix and key", async () => {
    const database = await fresh("watch_long");
    const store = await createPostgresStore(database.url);
    try {
      // 255 characters of 4 UTF-8 bytes each, in both the prefix and the key.
      const prefix = "😀".repeat(255);
      const key = "𝄞".repeat(255);
      const reader = await liveWatch(store, prefix);
      const revision = await store.setIf(prefix, key, bytes("1"), { revision: 0 });
      expect(await reader.take(1)).toEqual([{ type: "set", key, revision }]);
      await store.remove(prefix, key);
      expect(await reader.take(1)).toMatchObject([{ type: "remove", key }]);
      await reader.iterator.return?.();
    } finally {
      await store.close();
    }
  });
});
