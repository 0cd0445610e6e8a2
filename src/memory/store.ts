import { inspect } from "node:util";
import { conflict } from "../core/errors.js";
import {
  checkEntries,
  checkExpectedRevision,
  checkIterator,
  checkKey,
  checkKeys,
  checkKeysOptions,
  checkOpen,
  checkPrefix,
  checkPurgeOptions,
  checkUpdater,
  checkValue,
  checkWork,
} from "../core/input.js";
import { acquireLease, type LeaseBackend } from "../core/leases.js";
import { resolveStoreOptions, type StoreOptions } from "../core/options.js";
import { eachKey, KeysetWalk } from "../core/pages.js";
import type {
  CompareOptions,
  EntriesInput,
  KeysOptions,
  Lease,
  LeaseOptions,
  ListIterator,
  PurgeOptions,
  RevisionedValue,
  Store,
  StoreEntry,
  Updater,
  WatchEvent,
  WatchOptions,
} from "../core/types.js";
import { type RowAccess, readModifyWrite } from "../core/update.js";
import { watchChanges } from "../core/watch.js";
import { type MemoryChange, MemoryChanges } from "./changes.js";
import { type MemoryEntry, MemoryLayer } from "./layer.js";

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
  readonly changes: MemoryChanges;
  /** Leases by name, with the holder's token and when it expires (ms since the epoch). */
  readonly leases: Map<string, { token: number; expiresAt: number }>;
}

/** The memory store's options: the store options, and how long removes are kept for watches. */
export interface MemoryStoreOptions extends StoreOptions {
  /**
   * How long a remove stays in the change log, for watches resuming after an earlier revision.
   * @default one day, as on PostgreSQL
   */
  changeRetentionMs?: number;
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
  /** In a transaction: the changes it made, delivered to watches when the outermost one commits. */
  #pending: MemoryChange[] | undefined;
  /** Outside a transaction: the changes of the write running, until it commits them. */
  readonly #unsent: MemoryChange[] = [];
  /** In a transaction: the outermost one, which holds the write turn from its first write until it ends. */
  #owner: { ended: Promise<void> } | undefined;

  /** `pageSize` works as on PostgreSQL (a write shows up in pages not yet fetched); `autoMigrate` has nothing to do here. */
  constructor(options?: MemoryStoreOptions) {
    this.#layer = new MemoryLayer();
    const { changeRetentionMs, ...storeOptions } = options ?? {};
    const { pageSize, maxValueBytes } = resolveStoreOptions(storeOptions);
    this.#shared = {
      pageSize,
      maxValueBytes,
      version: 0,
      changes: new MemoryChanges(changeRetentionMs),
      leases: new Map(),
    };
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
    const bytes = checkValue({ op: "set", prefix, key }, value, this.#shared.maxValueBytes);
    await this.#writable();
    this.#write(prefix, key, bytes, new Date());
    this.#commit();
  }

  async remove(prefix: string, key: string): Promise<void> {
    checkOpen(this.#closed, "remove", prefix, key);
    checkKey("remove", prefix, key);
    await this.#writable();
    this.#delete(prefix, key);
    this.#commit();
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
    await this.#writable();
    const now = new Date();
    keys.forEach((key, i) => {
      this.#write(prefix, key, values[i] as Buffer, now);
    });
    this.#commit();
  }

  async removeMany(prefix: string, keys: readonly string[]): Promise<number> {
    checkOpen(this.#closed, "removeMany", prefix);
    const doomed = new Set(checkKeys("removeMany", prefix, keys));
    await this.#writable();
    const removed = this.#deleteAll(prefix, doomed);
    this.#commit();
    return removed;
  }

  async removePrefix(prefix: string): Promise<number> {
    checkOpen(this.#closed, "removePrefix", prefix);
    checkPrefix("removePrefix", prefix);
    await this.#writable();
    const removed = this.#deleteAll(prefix, this.#layer.keys(prefix));
    this.#commit();
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

  async getWithRevision(prefix: string, key: string): Promise<RevisionedValue | null> {
    checkOpen(this.#closed, "getWithRevision", prefix, key);
    checkKey("getWithRevision", prefix, key);
    const entry = this.#layer.read(prefix, key);
    return entry === undefined ? null : { value: Buffer.from(entry.value), revision: entry.revision };
  }

  async setIf(prefix: string, key: string, value: Uint8Array, options: CompareOptions): Promise<number> {
    checkOpen(this.#closed, "setIf", prefix, key);
    checkKey("setIf", prefix, key);
    const site = { op: "setIf", prefix, key } as const;
    const bytes = checkValue(site, value, this.#shared.maxValueBytes);
    const expected = checkExpectedRevision(site, options);
    await this.#writable();
    this.#compare(site, expected);
    const revision = this.#write(prefix, key, bytes, new Date());
    this.#commit();
    return revision;
  }

  async removeIf(prefix: string, key: string, options: CompareOptions): Promise<void> {
    checkOpen(this.#closed, "removeIf", prefix, key);
    checkKey("removeIf", prefix, key);
    const site = { op: "removeIf", prefix, key } as const;
    const expected = checkExpectedRevision(site, options);
    await this.#writable();
    this.#compare(site, expected);
    this.#delete(prefix, key);
    this.#commit();
  }

  async update(prefix: string, key: string, fn: Updater): Promise<number> {
    checkOpen(this.#closed, "update", prefix, key);
    checkKey("update", prefix, key);
    checkUpdater(prefix, key, fn);
    const site = { op: "update", prefix, key } as const;
    const row: RowAccess = {
      read: async () => {
        const entry = this.#layer.read(prefix, key);
        return entry === undefined
          ? { value: null, revision: 0 }
          : { value: Buffer.from(entry.value), revision: entry.revision };
      },
      write: async (value, revision) => {
        await this.#writable();
        if ((this.#layer.read(prefix, key)?.revision ?? 0) !== revision) return undefined;
        let written = 0;
        if (value === null) this.#delete(prefix, key);
        else written = this.#write(prefix, key, value, new Date());
        this.#commit();
        return written;
      },
    };
    for (;;) {
      const written = await readModifyWrite(site, row, fn, this.#shared.maxValueBytes);
      if (written !== undefined) return written.revision;
    }
  }

  watch(prefix: string, options?: WatchOptions): AsyncIterableIterator<WatchEvent> {
    const source = this.#shared.changes.source(
      (each) => {
        const rows: { key: string; revision: number }[] = [];
        for (const key of this.#base().keys(each)) {
          const entry = this.#base().read(each, key);
          if (entry !== undefined) rows.push({ key, revision: entry.revision });
        }
        return rows;
      },
      () => this.#closed,
    );
    return watchChanges(source, prefix, options);
  }

  acquireLease(name: string, options: LeaseOptions): Promise<Lease | null> {
    return acquireLease(this.#leaseBackend(), name, options);
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    checkOpen(this.#closed, "transaction");
    checkWork(work);
    const tx = new MemoryStore();
    tx.#layer = new MemoryLayer(this.#layer);
    tx.#shared = this.#shared;
    tx.#pending = [];
    let end = () => {};
    tx.#owner = this.#owner ?? { ended: new Promise<void>((done) => (end = done)) };
    try {
      const result = await work(tx);
      tx.#layer.commitTo(this.#layer);
      this.#shared.version++;
      if (this.#pending === undefined) this.#shared.changes.commit(tx.#pending);
      else this.#pending.push(...tx.#pending);
      return result;
    } finally {
      tx.#closed = true;
      end();
    }
  }

  async purge(options: PurgeOptions): Promise<number> {
    checkOpen(this.#closed, "purge", options?.prefix);
    const { olderThan, prefix, onProgress } = checkPurgeOptions(options);
    await this.#writable();
    const now = new Date();
    let removed = 0;
    for (const each of prefix === undefined ? this.#layer.prefixes() : [prefix]) {
      const old = [...this.#layer.keys(each)].filter(
        (key) => (this.#layer.read(each, key)?.updatedAt ?? now) < olderThan,
      );
      removed += this.#deleteAll(each, old);
    }
    this.#commit();
    onProgress?.(removed);
    return removed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pending === undefined) this.#shared.changes.clear();
  }

  [inspect.custom](): string {
    return `MemoryStore { ${this.#layer.prefixes().size} prefixes${this.#closed ? ", closed" : ""} }`;
  }

  /** Waits for another transaction's writes to end (see {@link MemoryChanges.writable}); in a transaction, then holds the turn. */
  async #writable(): Promise<void> {
    const changes = this.#shared.changes;
    await changes.writable(this.#owner);
    if (this.#owner !== undefined) changes.hold(this.#owner, this.#owner.ended);
    // A transaction's store can be closed (its transaction over) while it waited.
    checkOpen(this.#closed, "transaction");
  }

  /** Changes written outside a transaction are committed at once. */
  #commit(): void {
    if (this.#pending === undefined) {
      const changes = this.#changes.splice(0);
      this.#shared.changes.commit(changes);
    }
  }

  /** Where the changes of this store's writes wait until committed. */
  get #changes(): MemoryChange[] {
    return this.#pending ?? this.#unsent;
  }

  #compare(site: { op: "setIf" | "removeIf"; prefix: string; key: string }, expected: number): void {
    const current = this.#layer.read(site.prefix, site.key)?.revision;
    if ((current ?? 0) === expected) return;
    throw conflict(site, expected, current);
  }

  #write(prefix: string, key: string, value: Buffer, now: Date): number {
    const createdAt = this.#layer.read(prefix, key)?.createdAt ?? now;
    const revision = this.#shared.changes.next();
    this.#layer.write(prefix, key, { value: Buffer.from(value), createdAt, updatedAt: now, revision });
    this.#changes.push({ type: "set", prefix, key, revision });
    this.#shared.version++;
    return revision;
  }

  #delete(prefix: string, key: string): boolean {
    if (this.#layer.read(prefix, key) === undefined) return false;
    this.#layer.write(prefix, key, null);
    this.#changes.push({ type: "remove", prefix, key, revision: this.#shared.changes.next() });
    this.#shared.version++;
    return true;
  }

  /**
   * Removes the keys of one prefix as one statement does on PostgreSQL: one key is a remove, several
   * are one removeRange from the first to the last in byte order. Resolves with how many it removed.
   */
  #deleteAll(prefix: string, keys: Iterable<string>): number {
    const removed = [...keys].filter((key) => this.#layer.read(prefix, key) !== undefined).sort(compareCodePoints);
    const [first] = removed;
    const last = removed[removed.length - 1];
    if (first === undefined || last === undefined) return 0;
    if (removed.length === 1) return this.#delete(prefix, first) ? 1 : 0;
    for (const key of removed) this.#layer.write(prefix, key, null);
    this.#changes.push({
      type: "removeRange",
      prefix,
      key: first,
      lastKey: last,
      revision: this.#shared.changes.next(),
    });
    this.#shared.version++;
    return removed.length;
  }

  /** The committed rows, under any transaction's layers. */
  #base(): MemoryLayer {
    let layer = this.#layer;
    while (layer.parent !== undefined) layer = layer.parent;
    return layer;
  }

  #leaseBackend(): LeaseBackend {
    const leases = this.#shared.leases;
    const changes = this.#shared.changes;
    return {
      acquire: async (name, ttlMs) => {
        checkOpen(this.#closed, "acquireLease", undefined, name);
        const now = Date.now();
        const held = leases.get(name);
        if (held !== undefined && held.expiresAt > now) return null;
        const lease = { token: changes.next(), expiresAt: now + ttlMs };
        leases.set(name, lease);
        return { token: lease.token, expiresAt: new Date(lease.expiresAt) };
      },
      renew: async (name, token, ttlMs) => {
        checkOpen(this.#closed, "renewLease", undefined, name);
        const now = Date.now();
        const held = leases.get(name);
        if (held === undefined || held.token !== token || held.expiresAt <= now) return null;
        held.expiresAt = now + ttlMs;
        return new Date(held.expiresAt);
      },
      release: async (name, token) => {
        checkOpen(this.#closed, "releaseLease", undefined, name);
        if (leases.get(name)?.token === token) leases.delete(name);
      },
    };
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
        revision: entry.revision,
      };
    });
  }
}
