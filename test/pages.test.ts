import { describe, expect, it } from "vitest";
import { keysetPages } from "../src/pages.js";

/** Walks `count` rows of `bytes` each, returning the size of every page fetched. */
async function pageSizes(count: number, bytes: number, pageSize: number, limit = Number.POSITIVE_INFINITY) {
  const rows = Array.from({ length: count }, (_, i) => ({ key: String(i).padStart(6, "0"), bytes }));
  const sizes: number[] = [];
  const fetch = async (after: string | undefined, want: number) => {
    const page = rows.filter((row) => after === undefined || row.key > after).slice(0, want);
    sizes.push(want);
    return page;
  };
  let seen = 0;
  for await (const _ of keysetPages(fetch, { after: undefined, limit, pageSize }, (row) => row.bytes)) seen++;
  expect(seen).toBe(Math.min(count, limit));
  return sizes;
}

describe("keysetPages", () => {
  it("doubles the page up to 16 times the first", async () => {
    expect(await pageSizes(1000, 0, 10)).toEqual([10, 20, 40, 80, 160, 160, 160, 160, 160, 160]);
  });

  it("never asks for more than 100,000 rows at once", async () => {
    const sizes = await pageSizes(300_000, 0, 20_000);
    expect(Math.max(...sizes)).toBe(100_000);
  });

  it("stops growing once a page holds over 4 MiB of values", async () => {
    // 2 rows of 1.5 MiB (3 MiB) may double; 4 rows (6 MiB) may not.
    expect(await pageSizes(20, 1.5 * 1024 * 1024, 2)).toEqual([2, 4, 4, 4, 4, 4]);
  });

  it("asks for no more than the limit leaves", async () => {
    expect(await pageSizes(1000, 0, 10, 25)).toEqual([10, 15]);
  });
});
