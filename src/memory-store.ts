import { inspect } from "node:util";
import {
  checkEntries,
  checkIterator,
  checkKey,
  checkKeys,
  checkKeysOptions,
  checkOpen,
  checkPrefix,
  checkPurgeOptions,
  checkValue,
  checkWork,
} from "./input.js";
import { type MemoryEntry, MemoryLayer } from "./memory-layer.js";
import { resolveStoreOptions, type StoreOptions } from "./options.js";
import { eachKey, KeysetWalk } from "./pages.js";
import type { EntriesInput, KeysOptions, ListIterator, PurgeOptions, Store, StoreEntry } from "./types.js";

/**
 * Orders strings by code point, which is the byte order of their UTF-8 (PostgreSQL's C collation).
 * JavaScript's `<` compares UTF-16 units instead, and puts U+E000–U+FFFF after astral characters.
 */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Surrogates (astral characters) move above U+E000–U+FFFF.
function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/** The index of the first key after `after` in sorted keys. */
function firstAfter(sorted: readonly string[], after: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareCodePoints(sorted[middle] as string, after) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** What a store and the transactions opened on it share. */
interface Shared {
  readonly pageSize: number;
  readonly maxValueBytes: number;
  /** Counts writes in any layer, so that a sorted key list knows when it went stale. */
  version: number;
}

/**
 * A {@link Store} in a `Map`, with the same semantics and checks as the PostgreSQL stores: for
 * tests and for engines that need no durability (the original store's mem store). Values are
 * copied in and out, so callers may reuse their buffers.
 *
 * @example
 * const store = new MemoryStore();
 * await store.set("runs/1", "plan", new Uint8Array([1, 2, 3]));
 */
export class MemoryStore implements Store {
  #layer: MemoryLayer;
  #shared: Shared;
  /** The last prefix paged through, its keys sorted, and the version they were sorted at. */
  #sorted: { prefix: string; version: number; keys: string[] } | undefined;
  #closed = false;

  /** `pageSize` works as on PostgreSQL (a write shows up in pages not yet fetched); `autoMigrate` has nothing to do here. */
  constructor(options?: StoreOptions) {
    this.#layer = new MemoryLayer();
    const { pageSize, maxValueBytes } = resolveStoreOptions(options);
    this.#shared = { pageSize, maxValueBytes, version: 0 };
  }

  async get(prefix: string, key: string): Promise<Buffer | null> {
    checkOpen(this.#closed, "get", prefix, key);
    checkKey("get", prefix, key);
    const entry = this.#layer.read(prefix, key);
    return entry === undefined ? null : Buffer.from(entry.value);
  }

  async set(prefix: string, key: string, value: Uint8Array): Promise<void> {
    checkOpen(this.#closed, "set", prefix, key);
    checkKey("set", prefix, key);
    this.#write(prefix, key, checkValue({ op: "set", prefix, key }, value, this.#shared.maxValueBytes), new Date());
  }

  async remove(prefix: string, key: string): Promise<void> {
    checkOpen(this.#closed, "remove", prefix, key);
    checkKey("remove", prefix, key);
    this.#delete(prefix, key);
  }

  async list(prefix: string, iterator: ListIterator): Promise<void> {
    checkOpen(this.#closed, "list", prefix);
    checkPrefix("list", prefix);
    checkIterator(prefix, iterator);
    await eachKey(this.keys(prefix), iterator);
  }

  keys(prefix: string, options?: KeysOptions): AsyncIterableIterator<string> {
    return new KeysetWalk({
      start: () => this.#startWalk("keys", prefix, options),
      fetch: async (after, limit) => this.#page(prefix, after, limit),
      map: (entry) => entry.key,
    });
  }

  entries(prefix: string, options?: KeysOptions): AsyncIterableIterator<StoreEntry> {
    return new KeysetWalk({
      start: () => this.#startWalk("entries", prefix, options),
      fetch: async (after, limit) => this.#page(prefix, after, limit),
      map: (entry) => entry,
      bytes: (entry) => entry.value.length,
    });
  }

  #startWalk(op: "keys" | "entries", prefix: string, options: KeysOptions | undefined) {
    checkOpen(this.#closed, op, prefix);
    return checkKeysOptions(op, prefix, options, this.#shared.pageSize);
  }

  async getMany(prefix: string, keys: readonly string[]): Promise<Map<string, Buffer>> {
    checkOpen(this.#closed, "getMany", prefix);
    const found = new Map<string, Buffer>();
    for (const key of checkKeys("getMany", prefix, keys)) {
      const entry = this.#layer.read(prefix, key);
      if (entry !== undefined) found.set(key, Buffer.from(entry.value));
    }
    return found;
  }

  async setMany(prefix: string, entries: EntriesInput): Promise<void> {
    checkOpen(this.#closed, "setMany", prefix);
    const { keys, values } = checkEntries(prefix, entries, this.#shared.maxValueBytes);
    const now = new Date();
    keys.forEach((key, i) => {
      this.#write(prefix, key, values[i] as Buffer, now);
    });
  }

  async removeMany(prefix: string, keys: readonly string[]): Promise<number> {
    checkOpen(this.#closed, "removeMany", prefix);
    let removed = 0;
    for (const key of new Set(checkKeys("removeMany", prefix, keys))) {
      if (this.#delete(prefix, key)) removed++;
    }
    return removed;
  }

  async removePrefix(prefix: string): Promise<number> {
    checkOpen(this.#closed, "removePrefix", prefix);
    checkPrefix("removePrefix", prefix);
    let removed = 0;
    for (const key of this.#layer.keys(prefix)) {
      if (this.#delete(prefix, key)) removed++;
    }
    return removed;
  }

  async count(prefix: string): Promise<number> {
    checkOpen(this.#closed, "count", prefix);
    checkPrefix("count", prefix);
    return this.#layer.keys(prefix).size;
  }

  async has(prefix: string, key: string): Promise<boolean> {
    checkOpen(this.#closed, "has", prefix, key);
    checkKey("has", prefix, key);
    return this.#layer.read(prefix, key) !== undefined;
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    checkOpen(this.#closed, "transaction");
    checkWork(work);
    const tx = new MemoryStore();
    tx.#layer = new MemoryLayer(this.#layer);
    tx.#shared = this.#shared;
    try {
      const result = await work(tx);
      tx.#layer.commitTo(this.#layer);
      this.#shared.version++;
      return result;
    } finally {
      tx.#closed = true;
    }
  }

  async purge(options: PurgeOptions): Promise<number> {
    checkOpen(this.#closed, "purge", options?.prefix);
    const { olderThan, prefix, onProgress } = checkPurgeOptions(options);
    let removed = 0;
    for (const each of prefix === undefined ? this.#layer.prefixes() : [prefix]) {
      for (const key of this.#layer.keys(each)) {
        const entry = this.#layer.read(each, key);
        if (entry !== undefined && entry.updatedAt < olderThan && this.#delete(each, key)) removed++;
      }
    }
    onProgress?.(removed);
    return removed;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  [inspect.custom](): string {
    return `MemoryStore { ${this.#layer.prefixes().size} prefixes${this.#closed ? ", closed" : ""} }`;
  }

  #write(prefix: string, key: string, value: Buffer, now: Date): void {
    const createdAt = this.#layer.read(prefix, key)?.createdAt ?? now;
    this.#layer.write(prefix, key, { value: Buffer.from(value), createdAt, updatedAt: now });
    this.#shared.version++;
  }

  #delete(prefix: string, key: string): boolean {
    if (this.#layer.read(prefix, key) === undefined) return false;
    this.#layer.write(prefix, key, null);
    this.#shared.version++;
    return true;
  }

  /** Up to `limit` rows after `after`, from the prefix's keys sorted once per version. */
  #page(prefix: string, after: string | undefined, limit: number): StoreEntry[] {
    let sorted = this.#sorted;
    if (sorted?.prefix !== prefix || sorted.version !== this.#shared.version) {
      const keys = [...this.#layer.keys(prefix)].sort(compareCodePoints);
      sorted = { prefix, version: this.#shared.version, keys };
      this.#sorted = sorted;
    }
    const start = after === undefined ? 0 : firstAfter(sorted.keys, after);
    return sorted.keys.slice(start, start + limit).map((key) => {
      const entry = this.#layer.read(prefix, key) as MemoryEntry;
      return {
        key,
        value: Buffer.from(entry.value),
        createdAt: new Date(entry.createdAt),
        updatedAt: new Date(entry.updatedAt),
      };
    });
  }
}
