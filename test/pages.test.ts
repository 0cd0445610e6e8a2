import { describe, expect, it } from "vitest";
import { KeysetWalk } from "../src/core/pages.js";

/** Walks `count` rows of values of `bytes` each (keys only when 0), returning the size of every page fetched. */
async function pageSizes(count: number, bytes: number, pageSize: number, limit = Number.POSITIVE_INFINITY) {
  const rows = Array.from({ length: count }, (_, i) => ({ key: String(i).padStart(6, "0"), bytes }));
  const sizes: number[] = [];
  const fetch = async (after: string | undefined, want: number) => {
    const page = rows.filter((row) => after === undefined || row.key > after).slice(0, want);
    sizes.push(want);
    return page;
  };
  let seen = 0;
  type Row = (typeof rows)[number];
  const walk = new KeysetWalk<Row, string>({
    start: () => ({ after: undefined, limit, pageSize }),
    fetch,
    map: (row) => row.key,
    ...(bytes > 0 && { bytes: (row: Row) => row.bytes }),
  });
  for await (const _ of walk) seen++;
  expect(seen).toBe(Math.min(count, limit));
  return sizes;
}

describe("KeysetWalk", () => {
  it("doubles the page up to 16 times the first", async () => {
    expect(await pageSizes(1000, 0, 10)).toEqual([10, 20, 40, 80, 160, 160, 160, 160, 160, 160]);
  });

  it("never asks for more than 100,000 rows at once", async () => {
    const sizes = await pageSizes(300_000, 0, 20_000);
    expect(Math.max(...sizes)).toBe(100_000);
  });

  it("doubles a page only while the double stays within 2 MiB of values", async () => {
    // 2 rows of 256 KiB (0.5 MiB) may double; 4 rows (1 MiB, and a little) may not.
    expect(await pageSizes(20, 256 * 1024, 2)).toEqual([2, 4, 4, 4, 4, 4]);
  });

  it("counts about 1 KiB a row besides its value", async () => {
    // 2,000 rows of 1 B come to 2 MiB so counted: the page stops growing there.
    expect((await pageSizes(20_000, 1, 1000)).slice(0, 5)).toEqual([1000, 2000, 2000, 2000, 2000]);
  });

  it("asks for no more than the limit leaves", async () => {
    expect(await pageSizes(1000, 0, 10, 25)).toEqual([10, 15]);
  });
});

describe("KeysetWalk, driven by hand", () => {
  const rows = ["a", "b", "c"].map((key) => ({ key }));
  const walk = (
    fetch = async (after: string | undefined, want: number) =>
      rows.filter((row) => after === undefined || row.key > after).slice(0, want),
  ) =>
    new KeysetWalk({
      start: () => ({ after: undefined, limit: Number.POSITIVE_INFINITY, pageSize: 2 }),
      fetch,
      map: (row) => row.key,
    });

  it("answers next() calls made before the one before settled, in order", async () => {
    const iterator = walk();
    const results = await Promise.all([iterator.next(), iterator.next(), iterator.next(), iterator.next()]);
    expect(results).toEqual([
      { value: "a", done: false },
      { value: "b", done: false },
      { value: "c", done: false },
      { value: undefined, done: true },
    ]);
  });

  it("ends after return(), even with a page on its way", async () => {
    const iterator = walk();
    const first = iterator.next();
    await iterator.return();
    await first;
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it("rejects next() with the error of start, fetch or map, and is done afterwards", async () => {
    const failing = new KeysetWalk({
      start: () => {
        throw new Error("bad options");
      },
      fetch: async () => rows,
      map: (row) => row.key,
    });
    await expect(failing.next()).rejects.toThrow("bad options");
    const broken = walk(async () => {
      throw new Error("lost");
    });
    await expect(broken.next()).rejects.toThrow("lost");
    expect(await broken.next()).toEqual({ value: undefined, done: true });
  });
});
