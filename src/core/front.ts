import { inspect } from "node:util";
import type { Backend, KeySite, PageSource, PrefixSite, ReadSite } from "./backend.js";
import type { StoreOperation } from "./errors.js";
import {
  checkConsistency,
  checkEntries,
  checkExpectedRevision,
  checkIterator,
  checkKey,
  checkKeys,
  checkKeysOptions,
  checkOpen,
  checkPrefix,
  checkPrefixStatsOptions,
  checkPurgeOptions,
  checkUpdater,
  checkValue,
  checkWork,
} from "./input.js";
import { acquireLease, type LeaseBackend } from "./leases.js";
import { eachKey, KeysetWalk } from "./pages.js";
import type {
  CompareOptions,
  EntriesInput,
  KeyStat,
  KeysOptions,
  Lease,
  LeaseOptions,
  ListIterator,
  PrefixStat,
  PrefixStatsOptions,
  PurgeOptions,
  ReadOptions,
  RevisionedValue,
  Store,
  StoreEntry,
  Updater,
  WatchEvent,
  WatchOptions,
} from "./types.js";
import { type ChangeSource, watchChanges } from "./watch.js";

/** A method of {@link Store}: the name a call's errors carry. */
type Method = keyof Store & StoreOperation;

/**
 * The {@link Store} every backend is used through. Each call checks that the store is open, then
 * its arguments (`CLOSED`, then `INVALID_ARGUMENT`, before anything reaches the backend), and
 * hands the backend a site that names the operation.
 */
export class StoreFront implements Store {
  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  async get(prefix: string, key: string): Promise<Buffer | null> {
    return this.#backend.get(this.#key("get", prefix, key));
  }

  async set(prefix: string, key: string, value: Uint8Array): Promise<void> {
    const site = this.#key("set", prefix, key);
    return this.#backend.set(site, checkValue(site, value, this.#backend.maxValueBytes));
  }

  async remove(prefix: string, key: string): Promise<void> {
    return this.#backend.remove(this.#key("remove", prefix, key));
  }

  async list(prefix: string, iterator: ListIterator, options?: ReadOptions): Promise<void> {
    this.#prefix("list", prefix);
    checkIterator(prefix, iterator);
    const consistency = checkConsistency("list", prefix, options);
    await eachKey(this.keys(prefix, { consistency }), iterator);
  }

  keys(prefix: string, options?: KeysOptions): AsyncIterableIterator<string> {
    return this.#walk("keys", prefix, options, (site) => this.#backend.keys(site));
  }

  entries(prefix: string, options?: KeysOptions): AsyncIterableIterator<StoreEntry> {
    return this.#walk("entries", prefix, options, (site) => this.#backend.entries(site));
  }

  keyStats(prefix: string, options?: KeysOptions): AsyncIterableIterator<KeyStat> {
    return this.#walk("keyStats", prefix, options, (site) => this.#backend.keyStats(site));
  }

  async prefixStats(options?: PrefixStatsOptions): Promise<PrefixStat[]> {
    this.#open("prefixStats");
    const { limit, consistency } = checkPrefixStatsOptions(options);
    return this.#backend.prefixStats(limit, consistency);
  }

  async getMany(prefix: string, keys: readonly string[]): Promise<Map<string, Buffer>> {
    this.#open("getMany", prefix);
    const wanted = checkKeys("getMany", prefix, keys);
    return wanted.length === 0 ? new Map() : this.#backend.getMany({ op: "getMany", prefix }, wanted);
  }

  async setMany(prefix: string, entries: EntriesInput): Promise<void> {
    this.#open("setMany", prefix);
    const { keys, values } = checkEntries(prefix, entries, this.#backend.maxValueBytes);
    return this.#backend.setMany({ op: "setMany", prefix }, keys, values);
  }

  async removeMany(prefix: string, keys: readonly string[]): Promise<number> {
    this.#open("removeMany", prefix);
    const doomed = checkKeys("removeMany", prefix, keys);
    return this.#backend.removeMany({ op: "removeMany", prefix }, doomed);
  }

  async removePrefix(prefix: string): Promise<number> {
    return this.#backend.removePrefix(this.#prefix("removePrefix", prefix));
  }

  async count(prefix: string, options?: ReadOptions): Promise<number> {
    const site = this.#prefix("count", prefix);
    return this.#backend.count({ ...site, consistency: checkConsistency("count", prefix, options) });
  }

  async has(prefix: string, key: string): Promise<boolean> {
    return this.#backend.has(this.#key("has", prefix, key));
  }

  async getWithRevision(prefix: string, key: string): Promise<RevisionedValue | null> {
    return this.#backend.getWithRevision(this.#key("getWithRevision", prefix, key));
  }

  async setIf(prefix: string, key: string, value: Uint8Array, options: CompareOptions): Promise<number> {
    const site = this.#key("setIf", prefix, key);
    const bytes = checkValue(site, value, this.#backend.maxValueBytes);
    return this.#backend.setIf(site, bytes, checkExpectedRevision(site, options));
  }

  async removeIf(prefix: string, key: string, options: CompareOptions): Promise<void> {
    const site = this.#key("removeIf", prefix, key);
    return this.#backend.removeIf(site, checkExpectedRevision(site, options));
  }

  async update(prefix: string, key: string, fn: Updater): Promise<number> {
    const site = this.#key("update", prefix, key);
    checkUpdater(prefix, key, fn);
    return this.#backend.update(site, fn);
  }

  watch(prefix: string, options?: WatchOptions): AsyncIterableIterator<WatchEvent> {
    const changes = this.#backend.changes;
    const source: ChangeSource = {
      subscribe: (each, onWake) => {
        this.#open("watch", each);
        return changes.subscribe(each, onWake);
      },
      settled: (each, signal) => changes.settled(each, signal),
      changesAfter: (each, after, through, limit) => changes.changesAfter(each, after, through, limit),
      compactedRevision: () => changes.compactedRevision(),
    };
    return watchChanges(source, prefix, options);
  }

  acquireLease(name: string, options: LeaseOptions): Promise<Lease | null> {
    const leases = this.#backend.leases;
    const checked: LeaseBackend = {
      acquire: async (each, ttlMs) => {
        this.#open("acquireLease", undefined, each);
        return leases.acquire(each, ttlMs);
      },
      renew: async (each, token, ttlMs) => {
        this.#open("renewLease", undefined, each);
        return leases.renew(each, token, ttlMs);
      },
      release: async (each, token) => {
        this.#open("releaseLease", undefined, each);
        return leases.release(each, token);
      },
    };
    return acquireLease(checked, name, options);
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    this.#open("transaction");
    checkWork(work);
    return this.#backend.transaction((tx) => work(new StoreFront(tx)));
  }

  async purge(options: PurgeOptions): Promise<number> {
    this.#open("purge", options?.prefix);
    const { olderThan, prefix, batchSize, onProgress, dryRun } = checkPurgeOptions(options);
    return this.#backend.purge({ olderThan, prefix, batchSize, onProgress, dryRun });
  }

  close(): Promise<void> {
    return this.#backend.close();
  }

  [inspect.custom](): string {
    return this.#backend.describe();
  }

  /** Throws `CLOSED` for a call on a closed store. */
  #open(op: StoreOperation, prefix?: unknown, key?: unknown): void {
    checkOpen(this.#backend.closed, op, prefix, key);
  }

  #key(op: Method, prefix: string, key: string): KeySite {
    this.#open(op, prefix, key);
    checkKey(op, prefix, key);
    return { op, prefix, key };
  }

  #prefix(op: Method, prefix: string): PrefixSite {
    this.#open(op, prefix);
    checkPrefix(op, prefix);
    return { op, prefix };
  }

  /** Checks a listing's arguments when iteration starts, then walks the prefix a page at a time. */
  #walk<U>(
    op: "keys" | "entries" | "keyStats",
    prefix: string,
    options: KeysOptions | undefined,
    pages: (site: ReadSite) => PageSource<U>,
  ): AsyncIterableIterator<U> {
    // Checked with the rest when the walk starts, before the first page is fetched.
    const consistency = (options as KeysOptions | null | undefined)?.consistency === "replica" ? "replica" : "primary";
    return new KeysetWalk({
      ...pages({ op, prefix, consistency }),
      start: () => {
        this.#open(op, prefix);
        return checkKeysOptions(op, prefix, options, this.#backend.pageSize);
      },
    });
  }
}
