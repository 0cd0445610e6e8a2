import type { KeyRange } from "./input.js";
import { MAX_PAGE_SIZE } from "./options.js";
import type { ListIterator } from "./types.js";

/** Fetches up to `limit` rows of a prefix whose key comes after `after` (all when undefined), in byte order. */
export type PageFetcher<T> = (after: string | undefined, limit: number) => Promise<T[]>;

/** How many times the first page's rows a later page of one walk may fetch. */
const PAGE_GROWTH_LIMIT = 16;
/** The value bytes past which a walk's pages stop growing. */
const PAGE_BYTES_TARGET = 8 * 1024 * 1024;

/** The size of the page after one of `size` rows that held `bytes` of values. */
function nextPageSize(size: number, bytes: number, range: KeyRange): number {
  const ceiling = Math.min(range.pageSize * PAGE_GROWTH_LIMIT, MAX_PAGE_SIZE);
  return bytes * 2 <= PAGE_BYTES_TARGET ? Math.min(size * 2, Math.max(ceiling, range.pageSize)) : size;
}

/**
 * Walks a prefix a page at a time by key (keyset paging). Each page is one query that has
 * finished before any row is yielded, so no connection is held between pages, and a consumer
 * that stops early leaves nothing open. Writes made meanwhile are never repeated: a page starts
 * strictly after the last key yielded. The first page has `range.pageSize` rows; each later one
 * twice as many as the one before, up to 16 times the first (and 100,000), while a page's values
 * stay under 4 MiB (`bytes` tells a row's): a long walk takes few round trips, a short one fetches
 * no more than it did.
 */
export async function* keysetPages<T extends { key: string }>(
  fetch: PageFetcher<T>,
  range: KeyRange,
  bytes: (row: T) => number = () => 0,
): AsyncGenerator<T> {
  let after = range.after;
  let remaining = range.limit;
  let size = range.pageSize;
  while (remaining > 0) {
    const want = Math.min(size, remaining);
    const page = await fetch(after, want);
    let pageBytes = 0;
    for (const row of page) {
      pageBytes += bytes(row);
      yield row;
    }
    const last = page.at(-1);
    if (last === undefined || page.length < want) return;
    remaining -= page.length;
    after = last.key;
    size = nextPageSize(size, pageBytes, range);
  }
}

/** Calls `iterator` with each key until it returns `false`: `list` on top of `keys`. */
export async function eachKey(keys: AsyncIterable<string>, iterator: ListIterator): Promise<void> {
  for await (const key of keys) {
    if ((await iterator(key)) === false) return;
  }
}
