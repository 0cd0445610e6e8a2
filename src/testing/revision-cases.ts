import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryStore, type Store, StoreError, workflowStoreTable } from "../index.js";
import type { CaseContext } from "./context.js";
import { collect, expectStoreError, freshPrefix } from "./helpers.js";
import { Random, showInput } from "./random.js";
import { workerStores } from "./workers.js";

const bytes = (text: string) => Buffer.from(text);

/** Reads a counter, adds one and writes it back only if nobody wrote it meanwhile; retries on CONFLICT. */
async function increment(store: Store, prefix: string, key: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.getWithRevision(prefix, key);
    const next = (current === null ? 0 : Number(current.value.toString())) + 1;
    try {
      await store.setIf(prefix, key, bytes(String(next)), { revision: current?.revision ?? 0 });
      return attempt;
    } catch (error) {
      if (!(error instanceof StoreError && error.code === "CONFLICT")) throw error;
    }
  }
}

type Step =
  | { kind: "set" | "remove" | "read"; key: string; value: Uint8Array }
  | { kind: "setIf" | "removeIf"; key: string; value: Uint8Array; expect: "seen" | "absent" };

const stepKeys = ["a", "b", "c"];

function randomStep(random: Random): Step {
  const key = random.pick(stepKeys);
  const value = random.bytes(6);
  const kinds = ["set", "remove", "read", "setIf", "setIf", "removeIf"] as const;
  const kind = random.pick([...kinds]);
  if (kind === "setIf" || kind === "removeIf") {
    return { kind, key, value, expect: kind === "setIf" && random.boolean() ? "absent" : "seen" };
  }
  return { kind, key, value };
}

/**
 * Runs a step and returns what it answered, with revisions replaced by whether they were given:
 * two stores number revisions differently, but must agree on which calls conflict. `seen` holds
 * the revision each key had when this store last read or wrote it.
 */
async function applyStep(store: Store, prefix: string, step: Step, seen: Map<string, number>): Promise<unknown> {
  const outcome = async (call: Promise<unknown>) => {
    try {
      return { ok: await call };
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      return { code: error.code, hasRevision: error.revision !== undefined };
    }
  };
  switch (step.kind) {
    case "set":
      seen.delete(step.key);
      return outcome(store.set(prefix, step.key, step.value));
    case "remove":
      seen.delete(step.key);
      return outcome(store.remove(prefix, step.key));
    case "read": {
      const found = await store.getWithRevision(prefix, step.key);
      if (found !== null) seen.set(step.key, found.revision);
      return found?.value ?? null;
    }
    case "setIf": {
      const revision = step.expect === "absent" ? 0 : (seen.get(step.key) ?? 0);
      const result = await outcome(store.setIf(prefix, step.key, step.value, { revision }));
      if ("ok" in result) seen.set(step.key, result.ok as number);
      return "ok" in result ? { ok: "revision" } : result;
    }
    case "removeIf": {
      const revision = seen.get(step.key);
      if (revision === undefined) return "nothing seen";
      return outcome(store.removeIf(prefix, step.key, { revision }));
    }
  }
}

/** Revisions and compare-and-set: `getWithRevision`, `setIf`, `removeIf`, and revisions in `entries`. */
export function revisionCases({ target, store: suiteStore, seed }: CaseContext): void {
  const table = workflowStoreTable(target.schema);
  let store: Store;
  beforeAll(() => {
    store = suiteStore();
  });

  describe("revisions and compare-and-set", () => {
    it("give every write a new, higher revision, which getWithRevision and entries report", async () => {
      const prefix = freshPrefix();
      expect(await store.getWithRevision(prefix, "a")).toBeNull();
      await store.set(prefix, "a", bytes("1"));
      const first = await store.getWithRevision(prefix, "a");
      expect(first?.value).toEqual(bytes("1"));
      expect(first?.revision).toBeGreaterThan(0);
      await store.setMany(prefix, [["b", bytes("2")]]);
      await store.set(prefix, "a", bytes("3"));
      const a = await store.getWithRevision(prefix, "a");
      const b = await store.getWithRevision(prefix, "b");
      expect(b?.revision).toBeGreaterThan(first?.revision ?? 0);
      expect(a?.revision).toBeGreaterThan(b?.revision ?? 0);
      const entries = await collect(store.entries(prefix));
      expect(entries.map(({ key, revision }) => [key, revision])).toEqual([
        ["a", a?.revision],
        ["b", b?.revision],
      ]);
    });

    it("setIf with revision 0 writes only when there is no row", async () => {
      const prefix = freshPrefix();
      const revision = await store.setIf(prefix, "k", bytes("first"), { revision: 0 });
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("first"), revision });
      const error = await expectStoreError(store.setIf(prefix, "k", bytes("second"), { revision: 0 }), "CONFLICT");
      expect(error.revision).toBe(revision);
      expect([error.op, error.prefix, error.key]).toEqual(["setIf", prefix, "k"]);
      expect(await store.get(prefix, "k")).toEqual(bytes("first"));
    });

    it("setIf writes at the current revision and rejects a stale one with the current revision, writing nothing", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "k", bytes("v1"));
      const v1 = (await store.getWithRevision(prefix, "k"))?.revision ?? 0;
      const v2 = await store.setIf(prefix, "k", bytes("v2"), { revision: v1 });
      expect(v2).toBeGreaterThan(v1);
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("v2"), revision: v2 });
      const stale = await expectStoreError(store.setIf(prefix, "k", bytes("lost"), { revision: v1 }), "CONFLICT");
      expect(stale.revision).toBe(v2);
      expect(stale.message).toContain(`revision ${v2}`);
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("v2"), revision: v2 });
      const absent = await expectStoreError(store.setIf(prefix, "gone", bytes("x"), { revision: v2 }), "CONFLICT");
      expect(absent.revision).toBeUndefined();
      expect(await store.has(prefix, "gone")).toBe(false);
    });

    it("removeIf removes at the current revision only", async () => {
      const prefix = freshPrefix();
      const v1 = await store.setIf(prefix, "k", bytes("v1"), { revision: 0 });
      await store.set(prefix, "k", bytes("v2"));
      const v2 = (await store.getWithRevision(prefix, "k"))?.revision;
      const stale = await expectStoreError(store.removeIf(prefix, "k", { revision: v1 }), "CONFLICT");
      expect(stale.revision).toBe(v2);
      expect(await store.get(prefix, "k")).toEqual(bytes("v2"));
      await expect(store.removeIf(prefix, "k", { revision: v2 ?? 0 })).resolves.toBeUndefined();
      expect(await store.has(prefix, "k")).toBe(false);
      const absent = await expectStoreError(store.removeIf(prefix, "k", { revision: v2 ?? 0 }), "CONFLICT");
      expect(absent.revision).toBeUndefined();
    });

    it("reject a bad revision or key with INVALID_ARGUMENT before writing anything", async () => {
      const prefix = freshPrefix();
      const bad: unknown[] = [undefined, null, {}, { revision: -1 }, { revision: 1.5 }, { revision: "1" }];
      for (const options of bad) {
        await expectStoreError(store.setIf(prefix, "k", bytes("x"), options as never), "INVALID_ARGUMENT");
        await expectStoreError(store.removeIf(prefix, "k", options as never), "INVALID_ARGUMENT");
      }
      // removeIf needs a row's revision: 0 names none.
      await expectStoreError(store.removeIf(prefix, "k", { revision: 0 }), "INVALID_ARGUMENT");
      await expectStoreError(store.setIf(prefix, "k", "text" as never, { revision: 0 }), "INVALID_ARGUMENT");
      await expectStoreError(store.setIf(prefix, "a\0b", bytes("x"), { revision: 0 }), "INVALID_ARGUMENT");
      await expectStoreError(store.getWithRevision(prefix, 7 as never), "INVALID_ARGUMENT");
      expect(await store.count(prefix)).toBe(0);
    });

    it("compose with the other calls in a transaction, and roll back with it", async () => {
      const prefix = freshPrefix();
      const before = await store.setIf(prefix, "k", bytes("before"), { revision: 0 });
      const inside = await store.transaction(async (tx) => {
        const revision = await tx.setIf(prefix, "k", bytes("inside"), { revision: before });
        expect(await tx.getWithRevision(prefix, "k")).toEqual({ value: bytes("inside"), revision });
        // A conflict is an answer, not a failed statement: the transaction goes on.
        await expectStoreError(tx.setIf(prefix, "k", bytes("stale"), { revision: before }), "CONFLICT");
        await tx.set(prefix, "other", bytes("o"));
        return revision;
      });
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("inside"), revision: inside });
      await expect(
        store.transaction(async (tx) => {
          await tx.setIf(prefix, "k", bytes("rolled back"), { revision: inside });
          await tx.removeIf(prefix, "other", { revision: (await tx.getWithRevision(prefix, "other"))?.revision ?? 0 });
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(await store.getWithRevision(prefix, "k")).toEqual({ value: bytes("inside"), revision: inside });
      expect(await store.get(prefix, "other")).toEqual(bytes("o"));
    });

    it("count to exactly N × k when 8 workers increment one counter with read, compare-and-set, retry", async () => {
      const prefix = freshPrefix("counter");
      const workers = 8;
      const increments = 10;
      const { stores, close } = await workerStores(target, store, workers, 1);
      try {
        const attempts = await Promise.all(
          stores.map(async (each) => {
            let tries = 0;
            for (let i = 0; i < increments; i++) tries += await increment(each, prefix, "counter");
            return tries;
          }),
        );
        expect((await store.get(prefix, "counter"))?.toString()).toBe(String(workers * increments));
        // The workers did contend: some compare-and-set lost and was retried.
        expect(attempts.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(workers * increments);
      } finally {
        await close();
      }
    });

    it("agree with MemoryStore on random sequences of set, setIf, remove and removeIf", async () => {
      const random = new Random(seed);
      for (let run = 0; run < 20; run++) {
        const steps = random.array(25, () => randomStep(random));
        const prefix = freshPrefix("cas-model");
        const model = new MemoryStore();
        const seenHere = new Map<string, number>();
        const seenThere = new Map<string, number>();
        const failure = `seed ${seed}, run ${run}, steps ${showInput(steps)}`;
        for (const [index, step] of steps.entries()) {
          expect(await applyStep(store, prefix, step, seenHere), `${failure}: step ${index}`).toEqual(
            await applyStep(model, prefix, step, seenThere),
          );
        }
        const values = async (each: Store) =>
          (await collect(each.entries(prefix))).map(({ key, value }) => [key, value]);
        expect(await values(store), failure).toEqual(await values(model));
      }
    });

    it.skipIf(target.db === undefined)(
      `take a new revision for writes of other clients that know nothing of it${target.db ? "" : " (skipped: no second handle on this database)"}`,
      async () => {
        const db = target.db?.();
        if (db === undefined) return;
        const prefix = freshPrefix();
        const first = await store.setIf(prefix, "k", bytes("mine"), { revision: 0 });
        // The Go store's upsert, which names no revision.
        await db
          .insert(table)
          .values({ prefix, key: "k", value: bytes("theirs") })
          .onConflictDoUpdate({ target: [table.prefix, table.key], set: { value: sql`excluded.value` } });
        const after = await store.getWithRevision(prefix, "k");
        expect(after?.value).toEqual(bytes("theirs"));
        expect(after?.revision).toBeGreaterThan(first);
        await expectStoreError(store.setIf(prefix, "k", bytes("stale"), { revision: first }), "CONFLICT");
        // Even a client that sets the column itself gets the sequence's revision.
        await db
          .update(table)
          .set({ revision: 1 })
          .where(and(eq(table.prefix, prefix), eq(table.key, "k")));
        expect((await store.getWithRevision(prefix, "k"))?.revision).toBeGreaterThan(after?.revision ?? 0);
      },
    );
  });
}
