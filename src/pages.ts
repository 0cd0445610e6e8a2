import type { KeyRange } from "./input.js";
import type { ListIterator } from "./types.js";

/** Fetches up to `limit` rows of a prefix whose key comes after `after` (all when undefined), in byte order. */
export type PageFetcher<T> = (after: string | undefined, limit: number) => Promise<T[]>;

/**
 * Walks a prefix a page at a time by key (keyset paging). Each page is one query that has
 * finished before any row is yielded, so no connection is held between pages, and a consumer
 * that stops early leaves nothing open. Writes made meanwhile are never repeated: a page starts
 * strictly after the last key yielded.
 */
export async function* keysetPages<T extends { key: string }>(
  fetch: PageFetcher<T>,
  range: KeyRange,
): AsyncGenerator<T> {
  let after = range.after;
  let remaining = range.limit;
  while (remaining > 0) {
    const want = Math.min(range.pageSize, remaining);
    const page = await fetch(after, want);
    for (const row of page) yield row;
    const last = page.at(-1);
    if (last === undefined || page.length < want) return;
    remaining -= page.length;
    after = last.key;
  }
}

/** Calls `iterator` with each key until it returns `false`: `list` on top of `keys`. */
export async function eachKey(keys: AsyncIterable<string>, iterator: ListIterator): Promise<void> {
  for await (const key of keys) {
    if ((await iterator(key)) === false) return;
  }
}
