import { inspect } from "node:util";
import { checkIterator, checkKey, checkOpen, checkPrefix, checkValue } from "./input.js";
import { resolveStoreOptions, type StoreOptions } from "./options.js";
import type { ListIterator, Store } from "./types.js";

interface Entry {
  value: Buffer;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * Orders strings by code point, which is the byte order of their UTF-8 (PostgreSQL's C collation).
 * JavaScript's `<` compares UTF-16 units instead, and puts U+E000–U+FFFF after astral characters.
 */
export function compareCodePoints(a: string, b: string): number {
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
  readonly #prefixes = new Map<string, Map<string, Entry>>();
  readonly #pageSize: number;
  /** Counts writes, so that `list` knows when its sorted keys went stale. */
  #version = 0;
  #closed = false;

  /** `pageSize` works as on PostgreSQL (the iterator sees a write after the page it falls in); `autoMigrate` has nothing to do here. */
  constructor(options?: StoreOptions) {
    this.#pageSize = resolveStoreOptions(options).pageSize;
  }

  async get(prefix: string, key: string): Promise<Buffer | null> {
    checkOpen(this.#closed, "get", prefix, key);
    checkKey("get", prefix, key);
    const entry = this.#prefixes.get(prefix)?.get(key);
    return entry === undefined ? null : Buffer.from(entry.value);
  }

  async set(prefix: string, key: string, value: Uint8Array): Promise<void> {
    checkOpen(this.#closed, "set", prefix, key);
    checkKey("set", prefix, key);
    const bytes = Buffer.from(checkValue({ op: "set", prefix, key }, value));
    let entries = this.#prefixes.get(prefix);
    if (entries === undefined) {
      entries = new Map();
      this.#prefixes.set(prefix, entries);
    }
    const now = new Date();
    entries.set(key, { value: bytes, createdAt: entries.get(key)?.createdAt ?? now, updatedAt: now });
    this.#version++;
  }

  async remove(prefix: string, key: string): Promise<void> {
    checkOpen(this.#closed, "remove", prefix, key);
    checkKey("remove", prefix, key);
    const entries = this.#prefixes.get(prefix);
    if (entries?.delete(key) !== true) return;
    if (entries.size === 0) this.#prefixes.delete(prefix);
    this.#version++;
  }

  async list(prefix: string, iterator: ListIterator): Promise<void> {
    checkOpen(this.#closed, "list", prefix);
    checkPrefix("list", prefix);
    checkIterator(prefix, iterator);
    // Pages by key as the PostgreSQL stores do, so that writes made by the iterator show up the
    // same way; the keys are sorted again only when something was written.
    let after: string | undefined;
    let sorted: string[] = [];
    let next = 0;
    let sortedAt = -1;
    for (;;) {
      if (sortedAt !== this.#version) {
        const keys = [...(this.#prefixes.get(prefix)?.keys() ?? [])];
        sorted = keys.filter((key) => after === undefined || compareCodePoints(key, after) > 0).sort(compareCodePoints);
        next = 0;
        sortedAt = this.#version;
      }
      const page = sorted.slice(next, next + this.#pageSize);
      next += page.length;
      for (const key of page) {
        if ((await iterator(key)) === false) return;
      }
      if (page.length < this.#pageSize) return;
      after = page.at(-1);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  [inspect.custom](): string {
    return `MemoryStore { ${this.#prefixes.size} prefixes${this.#closed ? ", closed" : ""} }`;
  }
}
