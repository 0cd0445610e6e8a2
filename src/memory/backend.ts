import type { Backend, KeySite, PageSource, PrefixSite, PurgeRequest } from "../core/backend.js";
import { conflict } from "../core/errors.js";
import { checkOpen } from "../core/input.js";
import type { LeaseBackend } from "../core/leases.js";
import { resolveStoreOptions } from "../core/options.js";
import type { KeyStat, PrefixStat, RevisionedValue, StoreEntry, Updater } from "../core/types.js";
import { type RowAccess, readModifyWrite } from "../core/update.js";
import type { ChangeSource } from "../core/watch.js";
import { type MemoryChange, MemoryChanges } from "./changes.js";
import { type MemoryEntry, MemoryLayer } from "./layer.js";
import { leasesIn, type MemoryLeases } from "./leases.js";
import type { MemoryStoreOptions } from "./options.js";
import { compareCodePoints, firstAfter } from "./order.js";

/** What a store and the transactions opened on it share. */
interface Shared {
  readonly pageSize: number;
  readonly maxValueBytes: number;
  /** Counts writes in any layer, so that a sorted key list knows when it went stale. */
  version: number;
  readonly changes: MemoryChanges;
  readonly leases: MemoryLeases;
}

/**
 * Rows in `Map`s, with the same semantics as the PostgreSQL backend: for tests and for engines that
 * need no durability (the Go store's mem store). Values are copied in and out, so callers may reuse
 * their buffers.
 */
export class MemoryBackend implements Backend {
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
  readonly changes: ChangeSource;
  readonly leases: LeaseBackend;

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
    this.changes = this.#changeSource();
    this.leases = leasesIn(this.#shared.leases, this.#shared.changes);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get maxValueBytes(): number {
    return this.#shared.maxValueBytes;
  }

  get pageSize(): number {
    return this.#shared.pageSize;
  }

  async get({ prefix, key }: KeySite): Promise<Buffer | null> {
    const entry = this.#layer.read(prefix, key);
    return entry === undefined ? null : Buffer.from(entry.value);
  }

  async set({ prefix, key }: KeySite, value: Buffer): Promise<void> {
    await this.#writable();
    this.#write(prefix, key, value, new Date());
    this.#commit();
  }

  async remove({ prefix, key }: KeySite): Promise<void> {
    await this.#writable();
    this.#delete(prefix, key);
    this.#commit();
  }

  keys({ prefix }: PrefixSite): PageSource<string> {
    return { fetch: async (after, limit) => this.#page(prefix, after, limit), map: (entry) => entry.key };
  }

  entries({ prefix }: PrefixSite): PageSource<StoreEntry> {
    return {
      fetch: async (after, limit) => this.#page(prefix, after, limit),
      map: (entry) => entry as StoreEntry,
      bytes: (entry) => (entry as StoreEntry).value.length,
    };
  }

  keyStats({ prefix }: PrefixSite): PageSource<KeyStat> {
    return {
      fetch: async (after, limit) => this.#page(prefix, after, limit),
      map: (row) => {
        const { key, value, createdAt, updatedAt, revision } = row as StoreEntry;
        return { key, size: value.length, createdAt, updatedAt, revision };
      },
    };
  }

  async prefixStats(limit: number): Promise<PrefixStat[]> {
    return this.#layer.prefixStats(limit);
  }

  async getMany({ prefix }: PrefixSite, keys: readonly string[]): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    for (const key of keys) {
      const entry = this.#layer.read(prefix, key);
      if (entry !== undefined) found.set(key, Buffer.from(entry.value));
    }
    return found;
  }

  async setMany({ prefix }: PrefixSite, keys: readonly string[], values: readonly Buffer[]): Promise<void> {
    await this.#writable();
    const now = new Date();
    keys.forEach((key, i) => {
      this.#write(prefix, key, values[i] as Buffer, now);
    });
    this.#commit();
  }

  async removeMany({ prefix }: PrefixSite, keys: readonly string[]): Promise<number> {
    await this.#writable();
    const removed = this.#deleteAll(prefix, new Set(keys));
    this.#commit();
    return removed;
  }

  async removePrefix({ prefix }: PrefixSite): Promise<number> {
    await this.#writable();
    const removed = this.#deleteAll(prefix, this.#layer.keys(prefix));
    this.#commit();
    return removed;
  }

  async count({ prefix }: PrefixSite): Promise<number> {
    return this.#layer.keys(prefix).size;
  }

  async has({ prefix, key }: KeySite): Promise<boolean> {
    return this.#layer.read(prefix, key) !== undefined;
  }

  async getWithRevision({ prefix, key }: KeySite): Promise<RevisionedValue | null> {
    const entry = this.#layer.read(prefix, key);
    return entry === undefined ? null : { value: Buffer.from(entry.value), revision: entry.revision };
  }

  async setIf(site: KeySite, value: Buffer, expected: number): Promise<number> {
    await this.#writable();
    this.#compare(site, expected);
    const revision = this.#write(site.prefix, site.key, value, new Date());
    this.#commit();
    return revision;
  }

  async removeIf(site: KeySite, expected: number): Promise<void> {
    await this.#writable();
    this.#compare(site, expected);
    this.#delete(site.prefix, site.key);
    this.#commit();
  }

  async update(site: KeySite, fn: Updater): Promise<number> {
    const { prefix, key } = site;
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

  async transaction<T>(work: (tx: Backend) => Promise<T>): Promise<T> {
    const tx = new MemoryBackend();
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

  async purge({ olderThan, prefix, onProgress, dryRun }: PurgeRequest): Promise<number> {
    if (!dryRun) await this.#writable();
    const now = new Date();
    let removed = 0;
    for (const each of prefix === undefined ? this.#layer.prefixes() : [prefix]) {
      const old = [...this.#layer.keys(each)].filter(
        (key) => (this.#layer.read(each, key)?.updatedAt ?? now) < olderThan,
      );
      removed += dryRun ? old.length : this.#deleteAll(each, old);
    }
    if (dryRun) return removed;
    this.#commit();
    onProgress?.(removed);
    return removed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pending === undefined) this.#shared.changes.clear();
  }

  describe(): string {
    return `MemoryStore { ${this.#layer.prefixes().size} prefixes${this.#closed ? ", closed" : ""} }`;
  }

  /** Watches read the committed rows and the shared change log. */
  #changeSource(): ChangeSource {
    return this.#shared.changes.source(
      (each) => {
        const rows: { key: string; revision: number }[] = [];
        for (const key of this.#layer.root().keys(each)) {
          const entry = this.#layer.root().read(each, key);
          if (entry !== undefined) rows.push({ key, revision: entry.revision });
        }
        return rows;
      },
      () => this.#closed,
    );
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

  #compare(site: KeySite, expected: number): void {
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
