import type { WatchEvent } from "./types.js";

/**
 * Where a watch reads changes from: live ones as they commit, and those after a revision from
 * storage. The PostgreSQL stores build one over LISTEN/NOTIFY and their tables, the memory store
 * over its own log.
 */
export interface ChangeSource {
  /**
   * Starts delivering the committed changes of keys of exactly `prefix`, in commit order, to
   * `onChange`; resolves once delivery is live (any change committed after that is delivered).
   * `onGap` is called when changes may have been missed (a listening connection was lost and is
   * back): the watch then reads what it missed from storage. Resolves with what stops delivery.
   */
  subscribe(prefix: string, onChange: (event: WatchEvent) => void, onGap: () => void): Promise<() => void>;
  /** Up to `limit` changes of `prefix` after revision `after`, in revision order: each key's latest set and every remove kept. */
  changesAfter(prefix: string, after: number, limit: number): Promise<WatchEvent[]>;
  /** The highest revision of a change of `prefix` that storage holds, 0 when none. */
  latestRevision(prefix: string): Promise<number>;
  /** The highest revision the change log has dropped: resuming from before it is `COMPACTED`. */
  compactedRevision(): Promise<number>;
}

/** The iterator {@link Store.watch} returns, over a change source. Checks its arguments when iteration starts. */
export function watchChanges(
  _source: ChangeSource,
  _prefix: unknown,
  _options: unknown,
): AsyncIterableIterator<WatchEvent> {
  throw new Error("watch: not built yet");
}
