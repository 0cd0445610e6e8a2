import { and, eq, like, sql } from "drizzle-orm";
import { pgTable, text } from "drizzle-orm/pg-core";
import { beforeAll, describe, expect, it } from "vitest";
import { createStoreWithDb, MemoryStore, type Store, workflowStoreTable } from "../index.js";
import type { CaseContext } from "./context.js";
import { collect, expectStoreError, freshPrefix, listAll } from "./helpers.js";
import { Random, showInput } from "./random.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A table of "the app's own rows", for transactions that span the app and the store. */
const appRows = pgTable("dws_test_app_rows", { id: text("id").primaryKey() });

async function fill(store: Store, prefix: string, keys: string[]): Promise<void> {
  await store.setMany(
    prefix,
    keys.map((key) => [key, Buffer.from(key)] as const),
  );
}

async function* mapAsync<T, U>(items: AsyncIterable<T>, map: (item: T) => U): AsyncGenerator<U> {
  for await (const item of items) yield map(item);
}

const modelKeys = ["a", "b", "B", "é", "😀", "a/b", "%", ""];

type Write =
  | { kind: "set"; key: string; value: Uint8Array }
  | { kind: "remove"; key: string }
  | { kind: "setMany"; entries: [string, Uint8Array][] }
  | { kind: "removeMany"; keys: string[] };
type Operation =
  | Write
  | { kind: "read"; keys: string[] }
  | { kind: "removePrefix" }
  | { kind: "transaction"; writes: Write[]; fail: boolean };

function randomWrite(random: Random): Write {
  const key = () => random.pick(modelKeys);
  switch (random.int(0, 3)) {
    case 0:
      return { kind: "set", key: key(), value: random.bytes(8) };
    case 1:
      return { kind: "remove", key: key() };
    case 2: {
      // Each key at most once: a key given twice is an error of its own, checked elsewhere.
      const entries = new Map(random.array(4, () => [key(), random.bytes(4)] as const));
      return { kind: "setMany", entries: [...entries] };
    }
    default:
      return { kind: "removeMany", keys: random.array(4, key) };
  }
}

function randomOperation(random: Random): Operation {
  switch (random.int(0, 3)) {
    case 0:
      return randomWrite(random);
    case 1:
      return { kind: "read", keys: random.array(3, () => random.pick(modelKeys)) };
    case 2:
      return { kind: "removePrefix" };
    default:
      return { kind: "transaction", writes: random.array(4, () => randomWrite(random)), fail: random.boolean() };
  }
}

/** Runs one operation and returns what it answered, so that two stores can be compared. */
async function apply(store: Store, prefix: string, step: Operation): Promise<unknown> {
  switch (step.kind) {
    case "set":
      return store.set(prefix, step.key, step.value);
    case "remove":
      return store.remove(prefix, step.key);
    case "setMany":
      return store.setMany(prefix, step.entries);
    case "removeMany":
      return store.removeMany(prefix, step.keys);
    case "removePrefix":
      return store.removePrefix(prefix);
    case "read":
      return {
        many: [...(await store.getMany(prefix, step.keys))].sort(),
        one: await Promise.all(step.keys.map((key) => store.get(prefix, key))),
        has: await Promise.all(step.keys.map((key) => store.has(prefix, key))),
        count: await store.count(prefix),
        keys: await collect(store.keys(prefix, { pageSize: 2 })),
        values: (await collect(store.entries(prefix))).map(({ key, value }) => [key, value]),
      };
    case "transaction":
      return store
        .transaction(async (tx) => {
          for (const each of step.writes) await apply(tx, prefix, each);
          if (step.fail) throw new Error("roll back");
          return "committed";
        })
        .catch((error: Error) => error.message);
  }
}

/** What a workflow engine needs beyond get/set: streaming, batches, transactions and purge. */
export function engineCases({ target, store: suiteStore, seed }: CaseContext): void {
  const table = workflowStoreTable(target.schema);
  let store: Store;
  beforeAll(() => {
    store = suiteStore();
  });

  it("agrees with MemoryStore on random sequences of every operation", async () => {
    const random = new Random(seed);
    for (let run = 0; run < 25; run++) {
      const steps = random.array(20, () => randomOperation(random));
      const prefix = freshPrefix("model");
      const model = new MemoryStore();
      const failure = `seed ${seed}, run ${run}, steps ${showInput(steps)}`;
      for (const [index, step] of steps.entries()) {
        expect(await apply(store, prefix, step), `${failure}: step ${index}`).toEqual(await apply(model, prefix, step));
      }
      expect(await apply(store, prefix, { kind: "read", keys: [] }), `${failure}: after the last step`).toEqual(
        await apply(model, prefix, { kind: "read", keys: [] }),
      );
    }
  });

  describe("keys and entries", () => {
    it("stream the keys of exactly this prefix in byte order", async () => {
      const prefix = freshPrefix();
      await fill(store, prefix, ["b", "a", "B", "é", "😀", "\uFFFD"]);
      await store.set(`${prefix}/sub`, "x", Buffer.from("x"));
      await store.set(`${prefix}x`, "y", Buffer.from("y"));
      expect(await collect(store.keys(prefix))).toEqual(["B", "a", "b", "é", "\uFFFD", "😀"]);
      expect((await collect(store.entries(prefix))).map((entry) => entry.key)).toEqual(await listAll(store, prefix));
    });

    it("start after a key (exclusive), stop at a limit, and page by pageSize", async () => {
      const prefix = freshPrefix();
      const keys = Array.from({ length: 9 }, (_, i) => `k${i}`);
      await fill(store, prefix, keys);
      expect(await collect(store.keys(prefix, { after: "k2" }))).toEqual(keys.slice(3));
      expect(await collect(store.keys(prefix, { after: "k25" }))).toEqual(keys.slice(3));
      expect(await collect(store.keys(prefix, { limit: 4, pageSize: 3 }))).toEqual(keys.slice(0, 4));
      expect(await collect(store.keys(prefix, { after: "k1", limit: 5, pageSize: 2 }))).toEqual(keys.slice(2, 7));
      expect(await collect(store.keys(prefix, { limit: 0 }))).toEqual([]);
      expect(await collect(store.keys(prefix, { after: "z" }))).toEqual([]);
      expect((await collect(store.entries(prefix, { pageSize: 2 }))).map((entry) => entry.key)).toEqual(keys);
    });

    it("fetch pages that double as a walk goes on, up to 16 times the first", async () => {
      // A key written just after the one being yielded shows up only if the page holding it was
      // not fetched yet, that is, when the yielded key ends a page: which marks each page's end.
      for (const walk of ["keys", "entries"] as const) {
        const prefix = freshPrefix();
        const keys = Array.from({ length: 200 }, (_, i) => `k${String(i).padStart(3, "0")}`);
        await fill(store, prefix, keys);
        const seen: string[] = [];
        const rows =
          walk === "keys"
            ? store.keys(prefix, { pageSize: 2 })
            : mapAsync(store.entries(prefix, { pageSize: 2 }), (entry) => entry.key);
        for await (const key of rows) {
          seen.push(key);
          if (!key.endsWith("+")) await store.set(prefix, `${key}+`, Buffer.from("+"));
        }
        // Each "+" key seen starts a page: it was written while the row before it, a page's last, was yielded.
        const pageEnds = seen.flatMap((key, i) => (key.endsWith("+") ? [i] : []));
        const sizes = pageEnds.map((end, i) => end - (pageEnds[i - 1] ?? 0));
        expect(sizes.slice(0, 6), walk).toEqual([2, 4, 8, 16, 32, 32]);
      }
    });

    it("give each entry's value and timestamps; created_at stays on overwrite", async () => {
      const prefix = freshPrefix();
      const before = Date.now();
      await store.set(prefix, "k", Buffer.from([0, 1, 0xff]));
      await store.set(prefix, "empty", new Uint8Array());
      const [empty, first] = await collect(store.entries(prefix));
      expect(empty?.value).toEqual(Buffer.alloc(0));
      expect(first?.key).toBe("k");
      expect(first?.value).toEqual(Buffer.from([0, 1, 0xff]));
      expect(Buffer.isBuffer(first?.value)).toBe(true);
      expect(first?.createdAt).toBeInstanceOf(Date);
      expect(Math.abs((first?.createdAt.getTime() ?? 0) - before)).toBeLessThan(5000);
      await sleep(20);
      await store.set(prefix, "k", Buffer.from("two"));
      const [, second] = await collect(store.entries(prefix));
      expect(second?.createdAt).toEqual(first?.createdAt);
      expect(second?.updatedAt.getTime()).toBeGreaterThan(first?.updatedAt.getTime() ?? Number.POSITIVE_INFINITY);
      expect(second?.value).toEqual(Buffer.from("two"));
    });

    it("leave nothing busy when the consumer breaks out early, even on one connection", async () => {
      const single = await target.create({ max: 1, pageSize: 2 });
      try {
        const prefix = freshPrefix();
        await fill(single, prefix, ["a", "b", "c", "d", "e"]);
        for await (const key of single.keys(prefix)) {
          expect(key).toBe("a");
          break;
        }
        for await (const entry of single.entries(prefix)) {
          expect(entry.key).toBe("a");
          break;
        }
        expect(await single.get(prefix, "e")).toEqual(Buffer.from("e"));
        expect(await single.count(prefix)).toBe(5);
      } finally {
        await single.close();
      }
    });

    it("let the consumer write between items without repeats", async () => {
      const single = await target.create({ max: 1, pageSize: 2 });
      try {
        const prefix = freshPrefix();
        await fill(single, prefix, ["a", "c", "e"]);
        const seen: string[] = [];
        for await (const entry of single.entries(prefix)) {
          seen.push(entry.key);
          await single.set(prefix, `0${entry.key}`, entry.value); // behind the cursor
          await single.remove(prefix, entry.key);
        }
        expect(seen).toEqual(["a", "c", "e"]);
        expect(await collect(single.keys(prefix))).toEqual(["0a", "0c", "0e"]);
      } finally {
        await single.close();
      }
    });

    it("reject bad options with INVALID_ARGUMENT", async () => {
      const prefix = freshPrefix();
      for (const options of [{ limit: -1 }, { limit: 1.5 }, { pageSize: 0 }, { pageSize: 100_001 }, { after: "a\0" }]) {
        await expectStoreError(collect(store.keys(prefix, options)), "INVALID_ARGUMENT");
        await expectStoreError(collect(store.entries(prefix, options)), "INVALID_ARGUMENT");
      }
      await expectStoreError(collect(store.keys(42 as unknown as string)), "INVALID_ARGUMENT");
    });
  });

  describe("batches", () => {
    it("getMany returns the keys that exist, and leaves the missing ones out", async () => {
      const prefix = freshPrefix();
      await fill(store, prefix, ["a", "b", "c"]);
      await store.set(prefix, "empty", new Uint8Array());
      await store.set(freshPrefix(), "a", Buffer.from("other prefix"));
      const found = await store.getMany(prefix, ["a", "c", "missing", "a", "empty"]);
      expect([...found.keys()].sort()).toEqual(["a", "c", "empty"]);
      expect(found.get("a")).toEqual(Buffer.from("a"));
      expect(found.get("empty")).toEqual(Buffer.alloc(0));
      expect(await store.getMany(prefix, [])).toEqual(new Map());
    });

    it("setMany takes pairs, a Map or an object, and keeps created_at of keys it overwrites", async () => {
      const prefix = freshPrefix();
      await store.setMany(prefix, [
        ["a", Buffer.from("1")],
        ["b", new Uint8Array([2])],
      ]);
      const [firstA] = await collect(store.entries(prefix, { limit: 1 }));
      await sleep(20);
      await store.setMany(prefix, new Map([["c", Buffer.from("3")]]));
      await store.setMany(prefix, { a: Buffer.from("one"), d: Buffer.from("4") });
      await store.setMany(prefix, []);
      const found = await store.getMany(prefix, ["a", "b", "c", "d"]);
      expect(Object.fromEntries([...found].map(([key, value]) => [key, value.toString()]))).toEqual({
        a: "one",
        b: "\u0002",
        c: "3",
        d: "4",
      });
      const [againA] = await collect(store.entries(prefix, { limit: 1 }));
      expect(againA?.createdAt).toEqual(firstA?.createdAt);
      expect(againA?.updatedAt.getTime()).toBeGreaterThan(firstA?.updatedAt.getTime() ?? Number.POSITIVE_INFINITY);
    });

    it("setMany writes 10,000 entries in one call", async () => {
      const prefix = freshPrefix();
      const entries = Array.from({ length: 10_000 }, (_, i) => [`key-${i}`, Buffer.from(`value-${i}`)] as const);
      await store.setMany(prefix, entries);
      expect(await store.count(prefix)).toBe(10_000);
      expect((await store.getMany(prefix, ["key-0", "key-9999"])).get("key-9999")).toEqual(Buffer.from("value-9999"));
    });

    it("setMany rejects a key given twice, or any bad entry, before writing anything", async () => {
      const prefix = freshPrefix();
      const twice = await expectStoreError(
        store.setMany(prefix, [
          ["a", Buffer.from("1")],
          ["b", Buffer.from("2")],
          ["a", Buffer.from("3")],
        ]),
        "INVALID_ARGUMENT",
      );
      expect(twice.key).toBe("a");
      expect(twice.message).toContain("twice");
      for (const bad of [
        [
          ["ok", Buffer.from("1")],
          ["x".repeat(256), Buffer.from("2")],
        ],
        [
          ["ok", Buffer.from("1")],
          ["bad", "not bytes"],
        ],
        [
          ["ok", Buffer.from("1")],
          ["lone", Buffer.from("2"), "extra"],
        ],
        [
          ["ok", Buffer.from("1")],
          ["a\uD800", Buffer.from("2")],
        ],
        { ok: Buffer.from("1"), bad: 42 },
        "not entries",
        null,
      ]) {
        await expectStoreError(store.setMany(prefix, bad as never), "INVALID_ARGUMENT");
      }
      expect(await store.count(prefix)).toBe(0);
    });

    it("getMany and removeMany reject a bad key before sending anything", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "a", Buffer.from("a"));
      await expectStoreError(store.getMany(prefix, ["a", "b\0"]), "INVALID_ARGUMENT");
      await expectStoreError(store.removeMany(prefix, ["a", 42 as unknown as string]), "INVALID_ARGUMENT");
      await expectStoreError(store.removeMany(prefix, "a" as unknown as string[]), "INVALID_ARGUMENT");
      expect(await store.has(prefix, "a")).toBe(true);
    });

    it("removeMany deletes the keys given and counts the rows it deleted", async () => {
      const prefix = freshPrefix();
      await fill(store, prefix, ["a", "b", "c", "d"]);
      expect(await store.removeMany(prefix, ["a", "c", "missing", "a"])).toBe(2);
      expect(await listAll(store, prefix)).toEqual(["b", "d"]);
      expect(await store.removeMany(prefix, [])).toBe(0);
    });

    it("removePrefix deletes exactly this prefix and counts the rows", async () => {
      const prefix = freshPrefix();
      await fill(store, prefix, ["a", "b", "c"]);
      await fill(store, `${prefix}/child`, ["x"]);
      await fill(store, `${prefix}%`, ["y"]);
      expect(await store.removePrefix(prefix)).toBe(3);
      expect(await store.count(prefix)).toBe(0);
      expect(await store.count(`${prefix}/child`)).toBe(1);
      expect(await store.count(`${prefix}%`)).toBe(1);
      expect(await store.removePrefix(prefix)).toBe(0);
    });

    it("count and has answer for exactly this prefix and key", async () => {
      const prefix = freshPrefix();
      expect(await store.count(prefix)).toBe(0);
      await fill(store, prefix, ["a", "b"]);
      await store.set(prefix, "empty", new Uint8Array());
      await fill(store, `${prefix}_`, ["a"]);
      expect(await store.count(prefix)).toBe(3);
      expect(await store.has(prefix, "a")).toBe(true);
      expect(await store.has(prefix, "empty")).toBe(true);
      expect(await store.has(prefix, "A")).toBe(false);
      expect(await store.has(`${prefix}/`, "a")).toBe(false);
      await expectStoreError(store.has(prefix, "x".repeat(256)), "INVALID_ARGUMENT");
    });
  });

  describe("transactions", () => {
    it("commit every write together when the work resolves, and return its result", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "gone", Buffer.from("x"));
      const result = await store.transaction(async (tx) => {
        await tx.set(prefix, "a", Buffer.from("a"));
        await tx.setMany(prefix, [["b", Buffer.from("b")]]);
        await tx.remove(prefix, "gone");
        expect(await tx.count(prefix)).toBe(2);
        expect(await collect(tx.keys(prefix))).toEqual(["a", "b"]);
        return "done";
      });
      expect(result).toBe("done");
      expect(await listAll(store, prefix)).toEqual(["a", "b"]);
    });

    it("roll every write back when the work throws, and throw the same error", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "kept", Buffer.from("before"));
      const thrown = new Error("the step failed");
      const caught = await store
        .transaction(async (tx) => {
          await tx.set(prefix, "kept", Buffer.from("changed"));
          await tx.setMany(prefix, [
            ["a", Buffer.from("a")],
            ["b", Buffer.from("b")],
          ]);
          await tx.removeMany(prefix, ["kept"]);
          await tx.set(prefix, "kept", Buffer.from("again"));
          throw thrown;
        })
        .catch((error: unknown) => error);
      expect(caught).toBe(thrown);
      expect(await listAll(store, prefix)).toEqual(["kept"]);
      expect(await store.get(prefix, "kept")).toEqual(Buffer.from("before"));
    });

    it("nest as savepoints: an inner failure undoes only the inner writes", async () => {
      const prefix = freshPrefix();
      await store.transaction(async (tx) => {
        await tx.set(prefix, "outer", Buffer.from("o"));
        await tx
          .transaction(async (inner) => {
            await inner.set(prefix, "inner", Buffer.from("i"));
            await inner.remove(prefix, "outer");
            throw new Error("inner step failed");
          })
          .catch(() => undefined);
        expect(await tx.has(prefix, "outer")).toBe(true);
        await tx.transaction(async (inner) => {
          await inner.set(prefix, "inner-ok", Buffer.from("k"));
        });
      });
      expect(await listAll(store, prefix)).toEqual(["inner-ok", "outer"]);
    });

    it("close the transaction's store when the transaction ends", async () => {
      let escaped: Store | undefined;
      await store.transaction(async (tx) => {
        escaped = tx;
      });
      await expectStoreError(escaped?.get("p", "k") ?? Promise.resolve(), "CLOSED");
      await expectStoreError(store.transaction("work" as never), "INVALID_ARGUMENT");
    });
  });

  describe("purge", () => {
    it("deletes rows last written before olderThan, in batches, and counts them", async () => {
      const prefix = freshPrefix();
      const other = freshPrefix();
      await fill(store, prefix, ["old1", "old2", "old3", "old4", "old5"]);
      await fill(store, other, ["old-elsewhere"]);
      await sleep(50);
      const cutoff = new Date();
      await sleep(50);
      await fill(store, prefix, ["new"]);
      expect(await store.purge({ olderThan: cutoff, prefix, batchSize: 2 })).toBe(5);
      expect(await listAll(store, prefix)).toEqual(["new"]);
      expect(await store.count(other)).toBe(1);
      expect(await store.purge({ olderThan: cutoff, prefix })).toBe(0);
    });

    it("reports progress as a running total that ends at what it returns, a batch at a time on a database", async () => {
      const prefix = freshPrefix();
      await fill(store, prefix, ["a", "b", "c", "d", "e"]);
      await sleep(50);
      const totals: number[] = [];
      const removed = await store.purge({
        olderThan: new Date(),
        prefix,
        batchSize: 2,
        onProgress: (total) => totals.push(total),
      });
      expect(removed).toBe(5);
      expect(totals.at(-1)).toBe(5);
      expect(totals).toEqual([...totals].sort((a, b) => a - b));
      // A store on a database deletes batchSize rows per statement (the memory store all at once).
      if (target.db !== undefined) expect(totals).toEqual([2, 4, 5]);
    });

    it("without a prefix, purges every prefix", async () => {
      const first = freshPrefix();
      const second = freshPrefix();
      await fill(store, first, ["a"]);
      await fill(store, second, ["b"]);
      let cutoff: Date;
      const shared = target.db;
      if (shared === undefined) {
        await sleep(50);
        cutoff = new Date();
      } else {
        // Other test files write to the same database meanwhile: make these rows far older than any of theirs.
        const tenYears = sql`now() - interval '10 years'`;
        for (const prefix of [first, second]) {
          await shared().update(table).set({ updatedAt: tenYears }).where(eq(table.prefix, prefix));
        }
        cutoff = new Date(Date.now() - 9 * 365 * 24 * 3600 * 1000);
      }
      expect(await store.purge({ olderThan: cutoff })).toBeGreaterThanOrEqual(2);
      expect(await store.count(first)).toBe(0);
      expect(await store.count(second)).toBe(0);
    });

    it("rejects bad options with INVALID_ARGUMENT", async () => {
      for (const options of [
        undefined,
        {},
        { olderThan: "yesterday" },
        { olderThan: new Date(Number.NaN) },
        { olderThan: new Date(), batchSize: 0 },
        { olderThan: new Date(), prefix: "a\0" },
        { olderThan: new Date(), onProgress: "log" },
      ]) {
        await expectStoreError(store.purge(options as never), "INVALID_ARGUMENT");
      }
    });
  });

  const db = target.db;
  describe.skipIf(db === undefined)(
    `with the app's own database${db ? "" : " (skipped: no second handle on this database)"}`,
    () => {
      const database = () => {
        if (db === undefined) throw new Error("unreachable");
        return db();
      };
      beforeAll(async () => {
        await database().execute(sql`create table if not exists ${appRows} (id text primary key)`);
      });

      it("a store on the app's transaction commits and rolls back with the app's rows", async () => {
        const prefix = freshPrefix();
        const failure = new Error("the app's step failed");
        const caught = await database()
          .transaction(async (tx) => {
            await tx.insert(appRows).values({ id: prefix });
            const txStore = await createStoreWithDb(tx, { autoMigrate: false, schema: target.schema });
            await txStore.set(prefix, "k", Buffer.from("v"));
            await txStore.setMany(prefix, [["k2", Buffer.from("v2")]]);
            throw failure;
          })
          .catch((error: unknown) => error);
        expect(caught).toBe(failure);
        expect(await database().select().from(appRows).where(eq(appRows.id, prefix))).toEqual([]);
        expect(await store.count(prefix)).toBe(0);

        await database().transaction(async (tx) => {
          await tx.insert(appRows).values({ id: prefix });
          const txStore = await createStoreWithDb(tx, { autoMigrate: false, schema: target.schema });
          await txStore.set(prefix, "k", Buffer.from("v"));
        });
        expect(await database().select().from(appRows).where(eq(appRows.id, prefix))).toEqual([{ id: prefix }]);
        expect(await store.get(prefix, "k")).toEqual(Buffer.from("v"));
      });

      it("setMany writes nothing when the database fails one row of the batch", async () => {
        const prefix = freshPrefix();
        // A trigger that fails one key of this test, so the statement dies halfway through the batch.
        const fn = sql.raw(`"dws_fail_${prefix.replace(/\W/g, "")}"`);
        await database().execute(sql`
          create function ${fn}() returns trigger language plpgsql as $$
          begin
            if new.prefix = ${sql.raw(`'${prefix}'`)} and new.key = 'boom' then raise exception 'boom'; end if;
            return new;
          end $$`);
        await database().execute(
          sql`create trigger ${fn} before insert on ${table} for each row execute function ${fn}()`,
        );
        try {
          const error = await expectStoreError(
            store.setMany(prefix, [
              ["a", Buffer.from("a")],
              ["boom", Buffer.from("b")],
              ["c", Buffer.from("c")],
            ]),
            "QUERY",
          );
          expect(error.op).toBe("setMany");
          expect(await store.count(prefix)).toBe(0);
        } finally {
          await database().execute(sql`drop trigger ${fn} on ${table}`);
          await database().execute(sql`drop function ${fn}()`);
        }
      });

      it("purge goes by updated_at as the database wrote it", async () => {
        const prefix = freshPrefix();
        await fill(store, prefix, ["a", "b", "c"]);
        await database()
          .update(table)
          .set({ updatedAt: sql`now() - interval '2 days'` })
          .where(and(eq(table.prefix, prefix), like(table.key, "a")));
        expect(await store.purge({ olderThan: new Date(Date.now() - 24 * 3600 * 1000), prefix })).toBe(1);
        expect(await listAll(store, prefix)).toEqual(["b", "c"]);
      });
    },
  );
}
