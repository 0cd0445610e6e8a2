import { beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../index.js";
import type { CaseContext } from "./context.js";
import { expectStoreError, freshPrefix } from "./helpers.js";

const bytes = (text: string) => Buffer.from(text);

/**
 * What listings and maintenance read without the values: `keyStats`, `prefixStats`, `purge` with
 * `dryRun`; and the `consistency` every listing takes.
 */
export function statsCases({ target, store: suiteStore }: CaseContext): void {
  let store: Store;
  beforeAll(() => {
    store = suiteStore();
  });

  describe("keyStats", () => {
    it("gives each key's size, timestamps and revision in byte order, as entries does, without the value", async () => {
      const prefix = freshPrefix();
      await store.setMany(prefix, [
        ["b", bytes("two")],
        ["a", Buffer.alloc(0)],
        ["\u{1F600}", bytes("emoji")],
        ["\uE000", bytes("private use")],
      ]);
      const stats = [];
      for await (const stat of store.keyStats(prefix)) stats.push(stat);
      const entries = [];
      for await (const entry of store.entries(prefix)) entries.push(entry);
      expect(stats.map((stat) => stat.key)).toEqual(["a", "b", "\uE000", "\u{1F600}"]);
      expect(stats).toEqual(
        entries.map(({ key, value, createdAt, updatedAt, revision }) => ({
          key,
          size: value.length,
          createdAt,
          updatedAt,
          revision,
        })),
      );
      expect(stats.map((stat) => stat.size)).toEqual([0, 3, 11, 5]);
    });

    it("starts after a key, stops at a limit, and crosses pages", async () => {
      const small = await target.create({ pageSize: 2 });
      try {
        const prefix = freshPrefix();
        const keys = Array.from({ length: 7 }, (_, i) => `k${i}`);
        await small.setMany(
          prefix,
          keys.map((key) => [key, bytes(key)]),
        );
        const listed = [];
        for await (const stat of small.keyStats(prefix, { after: "k1", limit: 4 })) listed.push(stat.key);
        expect(listed).toEqual(["k2", "k3", "k4", "k5"]);
        const all = [];
        for await (const stat of small.keyStats(prefix)) all.push(stat.key);
        expect(all).toEqual(keys);
      } finally {
        await small.close();
      }
    });

    it("rejects bad options with INVALID_ARGUMENT when iteration starts", async () => {
      const prefix = freshPrefix();
      await expectStoreError(store.keyStats(prefix, { limit: -1 })[Symbol.asyncIterator]().next(), "INVALID_ARGUMENT");
      await expectStoreError(store.keyStats(`${prefix}\0`)[Symbol.asyncIterator]().next(), "INVALID_ARGUMENT");
    });
  });

  describe("prefixStats", () => {
    it("counts rows and bytes per prefix, most bytes first, then most rows, then the prefix in byte order", async () => {
      const base = freshPrefix();
      // Large, so that these are among the prefixes returned whatever else the table holds.
      const big = Buffer.alloc(1_000_000, 1);
      const [one, two, three] = [`${base}/1`, `${base}/2`, `${base}/3`];
      await store.setMany(one, [["a", Buffer.concat([big, big])]]);
      await store.setMany(two, [
        ["a", big],
        ["b", big],
      ]);
      await store.setMany(three, [
        ["a", big],
        ["b", Buffer.alloc(0)],
        ["c", big.subarray(1)],
        ["d", bytes("x")],
      ]);
      const ours = (await store.prefixStats({ limit: 100_000 })).filter((stat) => stat.prefix.startsWith(base));
      expect(ours).toEqual([
        { prefix: three, rows: 4, bytes: 2_000_000 },
        { prefix: two, rows: 2, bytes: 2_000_000 },
        { prefix: one, rows: 1, bytes: 2_000_000 },
      ]);
      expect(await store.prefixStats({ limit: 1 })).toHaveLength(1);
      await store.removePrefix(one);
      await store.removePrefix(two);
      await store.removePrefix(three);
      const after = await store.prefixStats({ limit: 100_000 });
      expect(after.filter((stat) => stat.prefix.startsWith(base))).toEqual([]);
    });

    it("rejects a limit that is not a whole number from 1 to 100,000 with INVALID_ARGUMENT", async () => {
      for (const limit of [0, 1.5, 100_001, "5"]) {
        await expectStoreError(store.prefixStats({ limit } as never), "INVALID_ARGUMENT");
      }
    });
  });

  describe("purge with dryRun", () => {
    it("counts what purge would delete now, in the prefix or everywhere, and deletes nothing", async () => {
      const prefix = freshPrefix();
      await store.setMany(prefix, [
        ["a", bytes("1")],
        ["b", bytes("2")],
      ]);
      const later = new Date(Date.now() + 60_000);
      const earlier = new Date(Date.now() - 60_000);
      expect(await store.purge({ olderThan: later, prefix, dryRun: true })).toBe(2);
      expect(await store.purge({ olderThan: earlier, prefix, dryRun: true })).toBe(0);
      expect(await store.purge({ olderThan: later, dryRun: true })).toBeGreaterThanOrEqual(2);
      expect(await store.count(prefix)).toBe(2);
      expect(await store.purge({ olderThan: later, prefix, dryRun: false })).toBe(2);
      expect(await store.count(prefix)).toBe(0);
      await expectStoreError(store.purge({ olderThan: later, dryRun: "yes" } as never), "INVALID_ARGUMENT");
    });
  });

  describe("consistency", () => {
    it("takes consistency replica on every listing, which a store without read replicas reads as it reads the rest", async () => {
      const prefix = freshPrefix();
      await store.setMany(prefix, [
        ["a", bytes("1")],
        ["b", bytes("2")],
      ]);
      const consistency = "replica";
      const listed: string[] = [];
      await store.list(prefix, (key) => void listed.push(key), { consistency });
      expect(listed).toEqual(["a", "b"]);
      const keys = [];
      for await (const key of store.keys(prefix, { consistency, pageSize: 1 })) keys.push(key);
      expect(keys).toEqual(["a", "b"]);
      const entries = [];
      for await (const entry of store.entries(prefix, { consistency })) entries.push(entry.key);
      expect(entries).toEqual(["a", "b"]);
      expect(await store.count(prefix, { consistency })).toBe(2);
      expect(await store.count(prefix, { consistency: "primary" })).toBe(2);
      const stats = await store.prefixStats({ limit: 100_000, consistency });
      expect(stats.find((stat) => stat.prefix === prefix)?.rows).toBe(2);
    });

    it("rejects a consistency that is neither primary nor replica with INVALID_ARGUMENT", async () => {
      const prefix = freshPrefix();
      for (const consistency of ["eventual", "", 1, null]) {
        await expectStoreError(store.count(prefix, { consistency } as never), "INVALID_ARGUMENT");
        await expectStoreError(store.prefixStats({ consistency } as never), "INVALID_ARGUMENT");
        await expectStoreError(
          store.list(prefix, () => {}, { consistency } as never),
          "INVALID_ARGUMENT",
        );
        const walk = store.keys(prefix, { consistency } as never)[Symbol.asyncIterator]();
        await expectStoreError(walk.next(), "INVALID_ARGUMENT");
      }
      await expectStoreError(store.count(prefix, "replica" as never), "INVALID_ARGUMENT");
    });
  });
}
