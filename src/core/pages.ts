import type { KeyRange } from "./input.js";
import { MAX_PAGE_SIZE } from "./options.js";
import type { ListIterator } from "./types.js";

/** Fetches up to `limit` rows of a prefix whose key comes after `after` (all when undefined), in byte order. */
type PageFetcher<T> = (after: string | undefined, limit: number) => Promise<T[]>;

/** How many times the first page's rows a later page of one walk may fetch. */
const PAGE_GROWTH_LIMIT = 16;
/**
 * What a row with a value costs in memory besides the value: its key, dates and the objects around
 * them, and on PGlite its share of the result in WebAssembly memory, which never shrinks.
 */
const ROW_OVERHEAD_BYTES = 1024;
/**
 * A page is doubled only while the double stays within this (values plus the overhead above): a
 * page of 1,000 entries of 256 B already does not grow. Larger pages save the server no time, and
 * on PGlite they grow WebAssembly memory, which never shrinks.
 */
const PAGE_BYTES_TARGET = 2 * 1024 * 1024;

/** The size of the page after one of `size` rows that held `bytes` of values. */
function nextPageSize(size: number, bytes: number, range: KeyRange): number {
  const ceiling = Math.min(range.pageSize * PAGE_GROWTH_LIMIT, MAX_PAGE_SIZE);
  return bytes * 2 <= PAGE_BYTES_TARGET ? Math.min(size * 2, Math.max(ceiling, range.pageSize)) : size;
}

/** How a walk fetches its pages and what it yields of each row. */
export interface Walk<T extends { key: string }, U> {
  /** Where the walk starts and stops; called (and its errors thrown) when iteration starts. */
  start(): KeyRange;
  fetch: PageFetcher<T>;
  /** What is yielded of a row; an error it throws ends the walk. */
  map(row: T): U;
  /** A row's value bytes, for the page-size bound; without it, rows count as nothing. */
  bytes?(row: T): number;
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * Walks a prefix a page at a time by key (keyset paging). Each page is one query that has
 * finished before any row is yielded, so no connection is held between pages, and a consumer
 * that stops early leaves nothing open. Writes made meanwhile are never repeated: a page starts
 * strictly after the last key yielded, and is fetched only once the one before was yielded. The
 * first page has `pageSize` rows; each later one twice as many as the one before, up to 16 times
 * the first (and 100,000), while the doubled page of values stays within 2 MiB (counting about
 * 1 KiB a row besides the value): a long walk takes few round trips, a short one fetches no more
 * than it needs, and an `entries` walk holds about 2 MiB at most.
 *
 * An iterator of its own rather than async generators: a generator per layer costs about as much
 * per row as the rest of a `keys` walk.
 */
export class KeysetWalk<T extends { key: string }, U> implements AsyncIterableIterator<U> {
  readonly #walk: Walk<T, U>;
  #range: KeyRange | undefined;
  #rows: T[] = [];
  #next = 0;
  #after: string | undefined;
  #remaining = 0;
  #size = 0;
  /** No page is left to fetch: the last one was short, the limit is reached, or the walk ended. */
  #finished = false;
  /** Ended by `return()` or an error: a page still arriving is dropped. */
  #ended = false;
  #fetching: Promise<unknown> | undefined;

  constructor(walk: Walk<T, U>) {
    this.#walk = walk;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<U>> {
    // A next() called before the one before settled waits for its page.
    if (this.#fetching !== undefined) return this.#fetching.then(() => this.next());
    try {
      const row = this.#rows[this.#next];
      if (row !== undefined) {
        this.#next++;
        return Promise.resolve({ value: this.#walk.map(row), done: false });
      }
      if (this.#range === undefined) this.#begin(this.#walk.start());
    } catch (error) {
      this.#end();
      return Promise.reject(error);
    }
    if (this.#finished) return Promise.resolve(DONE);
    const fetching = this.#fetchPage();
    this.#fetching = fetching;
    return fetching.then(
      () => {
        this.#fetching = undefined;
        return this.next();
      },
      (error: unknown) => {
        this.#fetching = undefined;
        this.#end();
        throw error;
      },
    );
  }

  return(): Promise<IteratorResult<U>> {
    this.#end();
    return Promise.resolve(DONE);
  }

  #begin(range: KeyRange): void {
    this.#range = range;
    this.#after = range.after;
    this.#remaining = range.limit;
    this.#size = range.pageSize;
    this.#finished = range.limit <= 0;
  }

  #end(): void {
    this.#ended = true;
    this.#rows = [];
    this.#next = 0;
    this.#finished = true;
  }

  async #fetchPage(): Promise<void> {
    const range = this.#range as KeyRange;
    const want = Math.min(this.#size, this.#remaining);
    const page = await this.#walk.fetch(this.#after, want);
    if (this.#ended) return;
    const last = page.at(-1);
    this.#rows = page;
    this.#next = 0;
    this.#remaining -= page.length;
    if (last === undefined || page.length < want || this.#remaining <= 0) {
      this.#finished = true;
      return;
    }
    this.#after = last.key;
    let bytes = 0;
    if (this.#walk.bytes !== undefined) for (const row of page) bytes += this.#walk.bytes(row) + ROW_OVERHEAD_BYTES;
    this.#size = nextPageSize(this.#size, bytes, range);
  }
}

/** Calls `iterator` with each key until it returns `false`: `list` on top of `keys`. */
export async function eachKey(keys: AsyncIterable<string>, iterator: ListIterator): Promise<void> {
  for await (const key of keys) {
    if ((await iterator(key)) === false) return;
  }
}
