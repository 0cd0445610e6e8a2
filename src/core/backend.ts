import type { ErrorSite } from "./errors.js";
import type { LeaseBackend } from "./leases.js";
import type { Walk } from "./pages.js";
import type { Consistency, KeyStat, PrefixStat, RevisionedValue, StoreEntry, Updater } from "./types.js";
import type { ChangeSource } from "./watch.js";

/** A call about one key, as the front hands it to a backend: its arguments are checked. */
export interface KeySite extends ErrorSite {
  prefix: string;
  key: string;
}

/** A call about one prefix, as the front hands it to a backend: its arguments are checked. */
export interface PrefixSite extends ErrorSite {
  prefix: string;
}

/** A read of one prefix that may go to a read replica (`consistency: "replica"`). */
export interface ReadSite extends PrefixSite {
  consistency: Consistency;
}

/** How a backend fetches the pages of a `keys` or `entries` walk and what it yields of each row. */
export type PageSource<U> = Omit<Walk<{ key: string }, U>, "start">;

/** What `purge` deletes, checked and with its batch size filled in. */
export interface PurgeRequest {
  olderThan: Date;
  prefix: string | undefined;
  batchSize: number;
  onProgress: ((removed: number) => void) | undefined;
  /** Count what it would delete, and delete nothing. */
  dryRun: boolean;
}

/**
 * What a store keeps its rows in: PostgreSQL through a Drizzle database, or memory. The front
 * ({@link StoreFront}) checks every argument and whether the store is open, and names the
 * operation in `site`; a backend only does the work, and names `site` in its errors.
 */
export interface Backend {
  /** Closed by `close()`, or a transaction's backend whose transaction is over. */
  readonly closed: boolean;
  readonly maxValueBytes: number;
  readonly pageSize: number;
  get(site: KeySite): Promise<Buffer | null>;
  set(site: KeySite, value: Buffer): Promise<void>;
  remove(site: KeySite): Promise<void>;
  keys(site: ReadSite): PageSource<string>;
  entries(site: ReadSite): PageSource<StoreEntry>;
  keyStats(site: ReadSite): PageSource<KeyStat>;
  /** The `limit` prefixes with the most bytes of values, largest first. */
  prefixStats(limit: number, consistency: Consistency): Promise<PrefixStat[]>;
  getMany(site: PrefixSite, keys: readonly string[]): Promise<Map<string, Buffer>>;
  /** Writes `values[i]` under `keys[i]`, all or none; the keys are distinct. */
  setMany(site: PrefixSite, keys: readonly string[], values: readonly Buffer[]): Promise<void>;
  removeMany(site: PrefixSite, keys: readonly string[]): Promise<number>;
  removePrefix(site: PrefixSite): Promise<number>;
  count(site: ReadSite): Promise<number>;
  has(site: KeySite): Promise<boolean>;
  getWithRevision(site: KeySite): Promise<RevisionedValue | null>;
  /** Writes only at `revision` (0: only when absent) and resolves with the new one; otherwise `CONFLICT`. */
  setIf(site: KeySite, value: Buffer, revision: number): Promise<number>;
  /** Deletes only at `revision`; otherwise `CONFLICT`. */
  removeIf(site: KeySite, revision: number): Promise<void>;
  update(site: KeySite, fn: Updater): Promise<number>;
  /** Where watches read changes; its `subscribe` is called after the front checked the store is open. */
  readonly changes: ChangeSource;
  /** Where leases are held; each call comes after the front checked the store is open. */
  readonly leases: LeaseBackend;
  /** Runs `work` with a backend whose writes commit together when it resolves; its errors are thrown on. */
  transaction<T>(work: (tx: Backend) => Promise<T>): Promise<T>;
  purge(request: PurgeRequest): Promise<number>;
  close(): Promise<void>;
  /** What `util.inspect` shows of the store. */
  describe(): string;
}
