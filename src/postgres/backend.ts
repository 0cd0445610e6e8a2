import type { Backend, KeySite, PageSource, PrefixSite, PurgeRequest, ReadSite } from "../core/backend.js";
import { conflict, type ErrorSite } from "../core/errors.js";
import type { LeaseBackend } from "../core/leases.js";
import type { StoreOptions } from "../core/options.js";
import type { Consistency, KeyStat, PrefixStat, RevisionedValue, StoreEntry, Updater } from "../core/types.js";
import { readModifyWrite } from "../core/update.js";
import type { ChangeSource } from "../core/watch.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import type { BatchedCalls } from "./batching.js";
import { Calls, type TransactionState } from "./calls.js";
import { changesIn, type Listening } from "./changes.js";
import { leasesIn } from "./leases.js";
import { once } from "./once.js";
import type { ReplicaSet } from "./replicas.js";
import type { StatementSettings } from "./statements/context.js";
import { arrayParameter, setRowsParameters } from "./statements/parameters.js";
import { type PreparedQueries, queriesOn } from "./statements/prepare.js";
import { storedValue } from "./stored-value.js";
import { runTransaction } from "./transaction.js";
import { translateError } from "./translate.js";
import { updatedRow, updateLocked } from "./update-row.js";
import { RecentConflicts, UpdateTurns } from "./update-turns.js";

/** How long `close()` of a store that opened its own pool lets calls in flight finish before ending it. */
const CLOSE_GRACE_MS = 5000;

/** What a backend runs on: the store's own database, or a transaction on it. */
interface Session {
  readonly db: AnyPgDatabase;
  readonly options: Readonly<Required<StoreOptions>>;
  /** How its statements are written (schema, names, the table's layout). */
  readonly settings: StatementSettings;
  /** What `util.inspect` shows of the store (never a password). */
  readonly label: string;
  /** The prepared statements, built on first use. */
  readonly queries: () => PreparedQueries;
  readonly calls: Calls;
  /** Gets and sets sent together while the pool is busy; absent in transactions and where the pool's size is unknown. */
  readonly batched?: BatchedCalls | undefined;
  readonly listening: Listening;
  /** Set on a transaction's backend. */
  readonly transaction?: TransactionState;
  /** Closes what the store opened itself; absent when the database is the caller's. */
  readonly release?: (() => Promise<void>) | undefined;
  /** Where reads with `consistency: "replica"` go; absent in transactions and without `readReplicas`. */
  readonly replicas?: ReplicaSet | undefined;
}

/** The store's calls as the statements of {@link prepareQueries}, over any Drizzle database or transaction. */
export class PostgresBackend implements Backend {
  readonly #s: Session;
  readonly #calls: Calls;
  readonly #q: () => PreparedQueries;
  /** The keys whose `update` lost a compare-and-set lately, which it then locks from the start. */
  readonly #conflicts = new RecentConflicts();
  /** This store's calls of `update`, one at a time per key. */
  readonly #updateTurns = new UpdateTurns();
  #closing: Promise<void> | undefined;
  readonly changes: ChangeSource;
  readonly leases: LeaseBackend;

  constructor(session: Session) {
    this.#s = session;
    this.#calls = session.calls;
    this.#q = session.queries;
    this.changes = changesIn(session.listening, session.queries, session.calls);
    this.leases = leasesIn(session.queries, session.calls);
  }

  get closed(): boolean {
    return this.#calls.closed;
  }

  get maxValueBytes(): number {
    return this.#s.options.maxValueBytes;
  }

  get pageSize(): number {
    return this.#s.options.pageSize;
  }

  async get(site: KeySite): Promise<Buffer | null> {
    const { prefix, key } = site;
    const maxBytes = this.maxValueBytes;
    const together = this.#s.batched?.get;
    const [row] = await this.#calls.run(
      site,
      () => this.#q().get.execute({ prefix, key, maxBytes }),
      together && (async () => [await together({ prefix, key })].filter((found) => found !== undefined)),
    );
    return row === undefined ? null : storedValue(row, site, maxBytes);
  }

  async set(site: KeySite, value: Buffer): Promise<void> {
    const { prefix, key } = site;
    this.#updateTurns.forget(prefix, key);
    const together = this.#s.batched?.set;
    await this.#calls.run(
      site,
      () => this.#q().set.execute({ prefix, key, value }),
      together && (() => together({ prefix, key, value })),
    );
  }

  async remove(site: KeySite): Promise<void> {
    const { prefix, key } = site;
    this.#updateTurns.forget(prefix, key);
    await this.#calls.run(site, () => this.#q().remove.execute({ prefix, key }));
  }

  keys(site: ReadSite): PageSource<string> {
    const { prefix } = site;
    return {
      fetch: (after, limit) =>
        this.#read(site, (q) =>
          after === undefined ? q.keysFirst.execute({ prefix, limit }) : q.keysAfter.execute({ prefix, after, limit }),
        ),
      map: (row) => row.key,
    };
  }

  entries(site: ReadSite): PageSource<StoreEntry> {
    const { prefix } = site;
    const maxBytes = this.maxValueBytes;
    type Row = Awaited<ReturnType<PreparedQueries["entriesFirst"]["execute"]>>[number];
    return {
      fetch: (after, limit) =>
        this.#read(site, (q) =>
          after === undefined
            ? q.entriesFirst.execute({ prefix, limit, maxBytes })
            : q.entriesAfter.execute({ prefix, after, limit, maxBytes }),
        ),
      map: (row) => {
        const { key, createdAt, updatedAt, revision } = row as Row;
        const value = storedValue(row as Row, { op: "entries", prefix, key }, maxBytes);
        return { key, value, createdAt, updatedAt, revision };
      },
      bytes: (row) => (row as Row).size,
    };
  }

  keyStats(site: ReadSite): PageSource<KeyStat> {
    const { prefix } = site;
    return {
      fetch: (after, limit) =>
        this.#read(site, (q) =>
          after === undefined
            ? q.keyStatsFirst.execute({ prefix, limit })
            : q.keyStatsAfter.execute({ prefix, after, limit }),
        ),
      map: (row) => row as KeyStat,
    };
  }

  async prefixStats(limit: number, consistency: Consistency): Promise<PrefixStat[]> {
    return this.#read({ op: "prefixStats", consistency }, (q) => q.prefixStats.execute({ limit }));
  }

  async getMany(site: PrefixSite, keys: readonly string[]): Promise<Map<string, Buffer>> {
    const { prefix } = site;
    const maxBytes = this.maxValueBytes;
    const rows = await this.#calls.run(site, () =>
      this.#q().getMany.execute({ prefix, keys: arrayParameter(keys), maxBytes }),
    );
    return new Map(rows.map((row) => [row.key, storedValue(row, { op: "getMany", prefix, key: row.key }, maxBytes)]));
  }

  async setMany(site: PrefixSite, keys: readonly string[], values: readonly Buffer[]): Promise<void> {
    this.#updateTurns.forget();
    if (keys.length === 0) return;
    const rows = setRowsParameters(
      keys.map(() => site.prefix),
      keys,
      values,
    );
    await this.#calls.run(site, () => this.#q().setRows.execute(rows));
  }

  async removeMany(site: PrefixSite, keys: readonly string[]): Promise<number> {
    this.#updateTurns.forget();
    if (keys.length === 0) return 0;
    const [row] = await this.#calls.run(site, () =>
      this.#q().removeMany.execute({ prefix: site.prefix, keys: arrayParameter(keys) }),
    );
    return row?.count ?? 0;
  }

  async removePrefix(site: PrefixSite): Promise<number> {
    this.#updateTurns.forget();
    const [row] = await this.#calls.run(site, () => this.#q().removePrefix.execute({ prefix: site.prefix }));
    return row?.count ?? 0;
  }

  async count(site: ReadSite): Promise<number> {
    const [row] = await this.#read(site, (q) => q.count.execute({ prefix: site.prefix }));
    return row?.count ?? 0;
  }

  async has(site: KeySite): Promise<boolean> {
    const { prefix, key } = site;
    const rows = await this.#calls.run(site, () => this.#q().has.execute({ prefix, key }));
    return rows.length > 0;
  }

  async getWithRevision(site: KeySite): Promise<RevisionedValue | null> {
    const { prefix, key } = site;
    const maxBytes = this.maxValueBytes;
    const [row] = await this.#calls.run(site, () => this.#q().getWithRevision.execute({ prefix, key, maxBytes }));
    return row === undefined ? null : { value: storedValue(row, site, maxBytes), revision: row.revision };
  }

  async setIf(site: KeySite, value: Buffer, revision: number): Promise<number> {
    const { prefix, key } = site;
    this.#updateTurns.forget(prefix, key);
    const [row] = await this.#calls.run(site, () =>
      revision === 0
        ? this.#q().insertIfAbsent.execute({ prefix, key, value })
        : this.#q().updateIf.execute({ prefix, key, value, revision }),
    );
    if (row?.revision == null) throw conflict(site, revision, row?.current);
    return row.revision;
  }

  async removeIf(site: KeySite, revision: number): Promise<void> {
    const { prefix, key } = site;
    this.#updateTurns.forget(prefix, key);
    const [row] = await this.#calls.run(site, () => this.#q().removeIf.execute({ prefix, key, revision }));
    if (row?.revision == null) throw conflict(site, revision, row?.current);
  }

  /**
   * From the row this store last wrote, or a read, then a compare-and-set; after a lost one, and on
   * a key that lost one lately, in a transaction with the row locked. In a transaction, the row lock
   * is held to its end anyway, so it is taken at once.
   */
  async update(site: KeySite, fn: Updater): Promise<number> {
    const maxBytes = this.maxValueBytes;
    if (this.#s.transaction !== undefined) {
      return (await updateLocked(this.#q(), this.#calls, site, fn, maxBytes)).revision;
    }
    const { prefix, key } = site;
    return this.#updateTurns.take(prefix, key, async (known) => {
      if (!this.#conflicts.has(prefix, key)) {
        const row = updatedRow(this.#q(), this.#calls, site, false, maxBytes);
        // From the row this store last wrote; when the row has moved on since, read it.
        if (known !== undefined) {
          const written = await readModifyWrite(site, { ...row, read: async () => known }, fn, maxBytes);
          if (written !== undefined) return written;
        }
        const written = await readModifyWrite(site, row, fn, maxBytes);
        if (written !== undefined) return written;
        this.#conflicts.note(prefix, key);
      }
      return this.transaction((tx) => (tx as unknown as PostgresBackend).#updateLocked(site, fn));
    });
  }

  transaction<T>(work: (tx: Backend) => Promise<T>): Promise<T> {
    const { db, options, settings, label, listening, transaction } = this.#s;
    const parent = this.#q;
    return runTransaction(db, transaction, this.#calls, work, (txDb, state) => {
      const calls = new Calls(undefined, state);
      const queries = once(() => queriesOn(parent(), txDb, settings));
      const tx = new PostgresBackend({
        db: txDb,
        options,
        settings,
        label: `${label} transaction`,
        queries,
        calls,
        listening,
        transaction: state,
      });
      return { tx, calls };
    });
  }

  async purge({ olderThan, prefix, batchSize, onProgress, dryRun }: PurgeRequest): Promise<number> {
    // An ISO string, not a Date: node-postgres would send a Date in the process's local time.
    const params = { olderThan: olderThan.toISOString(), limit: batchSize, prefix };
    if (dryRun) {
      const [row] = await this.#calls.run({ op: "purge", prefix }, () =>
        prefix === undefined ? this.#q().olderAll.execute(params) : this.#q().olderPrefix.execute(params),
      );
      return row?.count ?? 0;
    }
    this.#updateTurns.forget();
    let removed = 0;
    for (;;) {
      const [row] = await this.#calls.run({ op: "purge", prefix }, () =>
        prefix === undefined ? this.#q().purgeAll.execute(params) : this.#q().purgePrefix.execute(params),
      );
      const batch = row?.count ?? 0;
      removed += batch;
      onProgress?.(removed);
      if (batch < batchSize) return removed;
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  describe(): string {
    return `DrizzleStore { ${this.#s.label}${this.closed ? " closed" : ""} }`;
  }

  /**
   * A read on the primary, or, with `consistency: "replica"`, on a read replica that may be read
   * (see ReplicaSet), the primary standing in for it. Through `Calls` either way: a closed store
   * rejects, and errors are the store's.
   */
  #read<T>(site: ErrorSite & { consistency: Consistency }, read: (queries: PreparedQueries) => Promise<T>): Promise<T> {
    const replicas = this.#s.replicas;
    if (site.consistency === "primary" || replicas === undefined) return this.#calls.run(site, () => read(this.#q()));
    return this.#calls.run(site, () => replicas.read(read, () => read(this.#q())));
  }

  #updateLocked(site: KeySite, fn: Updater) {
    return updateLocked(this.#q(), this.#calls, site, fn, this.maxValueBytes);
  }

  async #shutDown(): Promise<void> {
    this.#calls.close();
    // A transaction's backend shares the listening connection of the store it came from.
    if (this.#s.transaction === undefined) {
      this.#s.listening.watched.close();
      await this.#s.listening.current?.close();
    }
    const { release, replicas } = this.#s;
    if (release === undefined && replicas === undefined) return;
    // Calls in flight finish, or fail, before the pool under them ends; what still hangs, the end fails.
    await this.#calls.settle(CLOSE_GRACE_MS);
    await replicas?.close();
    if (release === undefined) return;
    try {
      await release();
    } catch (error) {
      throw translateError(error, { op: "close" });
    }
  }
}
