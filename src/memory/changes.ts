import { StoreError } from "../core/errors.js";
import type { WatchEvent } from "../core/types.js";
import type { ChangeSource } from "../core/watch.js";

/** A change as the memory store records it: a watch event and its prefix. */
export type MemoryChange = WatchEvent & { prefix: string };

/** How long the memory store keeps removes for watches resuming after a revision unless told: a day, as on PostgreSQL. */
const DEFAULT_CHANGE_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * What the memory store keeps for revisions and watch: the last revision given out, the committed
 * removes of the last day, and the watches to tell of each committed change.
 */
export class MemoryChanges {
  revision = 0;
  readonly #retentionMs: number;
  #compacted = 0;
  readonly #removes: (MemoryChange & { at: number })[] = [];
  readonly #watches = new Set<{ prefix: string; onWake: () => void }>();
  /** The transaction writing, and what ends it: writers of other transactions and outside wait for it. */
  #writer: { owner: object; done: Promise<void> } | undefined;

  constructor(retentionMs = DEFAULT_CHANGE_RETENTION_MS) {
    this.#retentionMs = retentionMs;
  }

  next(): number {
    this.revision += 1;
    return this.revision;
  }

  /**
   * Waits until `owner` (a transaction, or `undefined` outside one) may write: while another
   * transaction has written and not ended, its writes' revisions come before any other's, as a
   * PostgreSQL transaction holds its prefixes' locks until it ends.
   */
  async writable(owner: object | undefined): Promise<void> {
    while (this.#writer !== undefined && this.#writer.owner !== owner) await this.#writer.done;
  }

  /** Marks `owner` as the transaction writing until `done` settles. */
  hold(owner: object, done: Promise<void>): void {
    if (this.#writer?.owner === owner) return;
    this.#writer = { owner, done };
    const free = () => {
      if (this.#writer?.owner === owner) this.#writer = undefined;
    };
    done.then(free, free);
  }

  /** Committed changes, in revision order: removes go to the log, and the watches of their prefixes wake. */
  commit(changes: readonly MemoryChange[]): void {
    const now = Date.now();
    const prefixes = new Set<string>();
    // A remove kept for no time is dropped by the next commit, as PostgreSQL drops it by the next delete.
    for (const change of changes) {
      if (change.type !== "set") this.#removes.push({ ...change, at: now });
      prefixes.add(change.prefix);
    }
    for (const watch of [...this.#watches]) if (prefixes.has(watch.prefix)) watch.onWake();
    while ((this.#removes[0]?.at ?? now) < now - this.#retentionMs) {
      this.#compacted = this.#removes.shift()?.revision ?? this.#compacted;
    }
  }

  /** The change source of watches, over the rows `latest` reads: each key of a prefix with its revision. */
  source(latest: (prefix: string) => Iterable<{ key: string; revision: number }>, closed: () => boolean): ChangeSource {
    const checkOpen = (prefix: string) => {
      if (closed()) throw new StoreError("CLOSED", { op: "watch", prefix }, "the store is closed");
    };
    return {
      subscribe: async (prefix, onWake) => {
        checkOpen(prefix);
        const watch = { prefix, onWake };
        this.#watches.add(watch);
        return {
          waiting: async () => {},
          reading: () => {},
          stop: () => {
            this.#watches.delete(watch);
          },
        };
      },
      settled: async (prefix) => {
        // A transaction's revisions commit when it ends, as PostgreSQL's writers do.
        while (this.#writer !== undefined) await this.#writer.done;
        checkOpen(prefix);
        return this.revision;
      },
      changesAfter: async (prefix, after, through, limit) => {
        // A watch reads storage after its store closed when told so (see clear): it ends with CLOSED.
        checkOpen(prefix);
        const within = (revision: number) => revision > after && revision <= through;
        const found: WatchEvent[] = [];
        for (const { key, revision } of latest(prefix)) {
          if (within(revision)) found.push({ type: "set", key, revision });
        }
        for (const { prefix: changed, at: _, ...change } of this.#removes) {
          if (changed === prefix && within(change.revision)) found.push(change);
        }
        return found.sort((a, b) => a.revision - b.revision).slice(0, limit);
      },
      compactedRevision: async () => this.#compacted,
    };
  }

  /** Closes every watch's delivery: the store closed. Each watch wakes, and ends with `CLOSED` when it reads storage. */
  clear(): void {
    const watches = [...this.#watches];
    this.#watches.clear();
    for (const watch of watches) watch.onWake();
  }
}
