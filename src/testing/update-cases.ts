import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { type Store, workflowStoreTable } from "../index.js";
import type { CaseContext } from "./context.js";
import { expectStoreError, freshPrefix } from "./helpers.js";
import { workerStores } from "./workers.js";

const bytes = (text: string) => Buffer.from(text);

/** Adds one to a counter whose value is its count as decimal text (no row counts 0). */
const addOne = (current: Buffer | null) => bytes(String((current === null ? 0 : Number(current.toString())) + 1));

/** `update`: read-modify-write in one call, on every store. */
export function updateCases({ target, store: suiteStore }: CaseContext): void {
  let store: Store;
  beforeAll(() => {
    store = suiteStore();
  });

  describe("update", () => {
    it("creates, replaces and removes a row, resolving with the new revision (0 when removed)", async () => {
      const prefix = freshPrefix();
      const seen: (string | null)[] = [];
      const record = (next: string | null) => (current: Buffer | null) => {
        seen.push(current === null ? null : current.toString());
        return next === null ? null : bytes(next);
      };
      const created = await store.update(prefix, "k", record("first"));
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("first"), revision: created });
      const replaced = await store.update(prefix, "k", record("second"));
      expect(replaced).toBeGreaterThan(created);
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("second"), revision: replaced });
      expect(await store.update(prefix, "k", record(null))).toBe(0);
      expect(await store.has(prefix, "k")).toBe(false);
      // Absent and staying absent: nothing to write.
      expect(await store.update(prefix, "k", record(null))).toBe(0);
      expect(seen).toEqual([null, "first", "second", null]);
      expect(await store.count(prefix)).toBe(0);
    });

    it("takes an async fn, and an empty value is a value", async () => {
      const prefix = freshPrefix();
      await store.update(prefix, "k", async () => Buffer.alloc(0));
      expect(await store.get(prefix, "k")).toEqual(Buffer.alloc(0));
    });

    it("calls fn again with the new value when a write comes between its read and its write", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "k", bytes("base"));
      const seen: string[] = [];
      const revision = await store.update(prefix, "k", async (current) => {
        seen.push(current?.toString() ?? "none");
        // Another writer, while this call holds nothing (its first try reads without a lock).
        if (seen.length === 1) await store.set(prefix, "k", bytes("theirs"));
        return bytes(`${current?.toString()}+mine`);
      });
      expect(seen).toEqual(["base", "theirs"]);
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("theirs+mine"), revision });
    });

    it("count to exactly N × k when 8 workers update one counter", async () => {
      const prefix = freshPrefix("counter");
      const workers = 8;
      const increments = 10;
      const { stores, close } = await workerStores(target, store, workers, 2);
      try {
        const revisions = await Promise.all(
          stores.map(async (each) => {
            const mine: number[] = [];
            for (let i = 0; i < increments; i++) mine.push(await each.update(prefix, "counter", addOne));
            return mine;
          }),
        );
        const final = await store.getWithRevision(prefix, "counter");
        expect(final?.value.toString()).toBe(String(workers * increments));
        // Each write is its own: no two callers were told the same revision.
        const all = revisions.flat();
        expect(new Set(all).size).toBe(workers * increments);
        expect(Math.max(...all)).toBe(final?.revision);
      } finally {
        await close();
      }
    });

    it("count to exactly N × k when 8 callers of one store update one counter, beside another writer", async () => {
      const prefix = freshPrefix("counter");
      const callers = 8;
      const increments = 10;
      // Where stores share a database, another store; otherwise more callers of the same one.
      const other = target.db === undefined ? store : await target.create();
      try {
        // The other adds 100 at a time meanwhile: the callers' writes must not lose its own.
        const beside = (async () => {
          for (let i = 0; i < 5; i++) {
            await other.update(prefix, "counter", (current) =>
              bytes(String((current === null ? 0 : Number(current.toString())) + 100)),
            );
          }
        })();
        await Promise.all(
          Array.from({ length: callers }, async () => {
            for (let i = 0; i < increments; i++) await store.update(prefix, "counter", addOne);
          }),
        );
        await beside;
        expect((await store.get(prefix, "counter"))?.toString()).toBe(String(callers * increments + 500));
      } finally {
        if (other !== store) await other.close();
      }
    });

    it("rejects with fn's own error, writing nothing", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "k", bytes("kept"));
      const failure = new Error("not this time");
      await expect(
        store.update(prefix, "k", () => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      await expect(store.update(prefix, "k", async () => Promise.reject(failure))).rejects.toBe(failure);
      expect(await store.get(prefix, "k")).toEqual(bytes("kept"));
    });

    it("rejects bad input, and a value fn returns that no write takes, with INVALID_ARGUMENT, writing nothing", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "k", bytes("kept"));
      await expectStoreError(store.update(prefix, "k", "fn" as never), "INVALID_ARGUMENT");
      await expectStoreError(store.update(prefix, "a\0b", addOne), "INVALID_ARGUMENT");
      await expectStoreError(store.update(7 as never, "k", addOne), "INVALID_ARGUMENT");
      const returned = await expectStoreError(
        store.update(prefix, "k", () => "text" as never),
        "INVALID_ARGUMENT",
      );
      expect([returned.op, returned.prefix, returned.key]).toEqual(["update", prefix, "k"]);
      await expectStoreError(
        store.update(prefix, "k", () => undefined as never),
        "INVALID_ARGUMENT",
      );
      const small = await target.create({ maxValueBytes: 4 });
      try {
        await expectStoreError(
          small.update(prefix, "k", () => bytes("too long")),
          "INVALID_ARGUMENT",
        );
      } finally {
        await small.close();
      }
      expect(await store.get(prefix, "k")).toEqual(bytes("kept"));
    });

    it("composes with the other calls in a transaction, and rolls back with it", async () => {
      const prefix = freshPrefix();
      const inside = await store.transaction(async (tx) => {
        const revision = await tx.update(prefix, "k", addOne);
        expect(await tx.update(prefix, "k", addOne)).toBeGreaterThan(revision);
        await tx.set(prefix, "other", bytes("o"));
        return tx.update(prefix, "k", addOne);
      });
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("3"), revision: inside });
      await expect(
        store.transaction(async (tx) => {
          await tx.update(prefix, "k", addOne);
          await tx.update(prefix, "other", () => null);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(await store.get(prefix, "k")).toEqual(bytes("3"));
      expect(await store.get(prefix, "other")).toEqual(bytes("o"));
    });

    it("rejects with CLOSED after close", async () => {
      const closing = await target.create();
      await closing.close();
      await expectStoreError(closing.update("p", "k", addOne), "CLOSED");
    });

    const db = target.db;
    it.skipIf(db === undefined)(
      `starts from the row as it is, when another client wrote it after this store's last update${db ? "" : " (skipped: no second handle on this database)"}`,
      async () => {
        if (db === undefined) return;
        const prefix = freshPrefix();
        const table = workflowStoreTable(target.schema);
        await store.update(prefix, "k", () => bytes("mine"));
        await db()
          .update(table)
          .set({ value: bytes("theirs") })
          .where(sql`${table.prefix} = ${prefix} and ${table.key} = 'k'`);
        const seen: string[] = [];
        const revision = await store.update(prefix, "k", (current) => {
          seen.push(current?.toString() ?? "none");
          return bytes(`${current?.toString()}+mine`);
        });
        // The store may try from the row it wrote last; that write must not land.
        expect(seen.at(-1)).toBe("theirs");
        expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("theirs+mine"), revision });
      },
    );

    it.skipIf(db === undefined)(
      `replaces a row without a value, which it reads as missing${db ? "" : " (skipped: no second handle on this database)"}`,
      async () => {
        if (db === undefined) return;
        const prefix = freshPrefix();
        const table = workflowStoreTable(target.schema);
        // The Go store can write a NULL value.
        await db().insert(table).values({ prefix, key: "k", value: sql`null` });
        const seen: (Buffer | null)[] = [];
        const revision = await store.update(prefix, "k", (current) => {
          seen.push(current);
          return bytes("now");
        });
        expect(seen).toEqual([null]);
        expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("now"), revision });
      },
    );
  });
}
