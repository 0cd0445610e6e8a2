import type { PrefixStat } from "../core/types.js";
import { compareCodePoints } from "./order.js";

/** A value with its timestamps, as the memory store keeps it. */
export interface MemoryEntry {
  readonly value: Buffer;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** The revision of its last write. */
  readonly revision: number;
}

/**
 * The rows of a memory store, or a transaction's changes over them. A transaction is a layer of
 * its own over its parent's: reads fall through to the parent, writes stay in the layer until
 * `commitTo` hands them down, and a rollback just drops the layer.
 */
export class MemoryLayer {
  readonly #parent: MemoryLayer | undefined;

  /** The layer this one commits to; `undefined` for the committed rows. */
  get parent(): MemoryLayer | undefined {
    return this.#parent;
  }
  /** `null` marks a key this layer removed. The base layer holds no `null`. */
  readonly #rows = new Map<string, Map<string, MemoryEntry | null>>();

  constructor(parent?: MemoryLayer) {
    this.#parent = parent;
  }

  read(prefix: string, key: string): MemoryEntry | undefined {
    const own = this.#rows.get(prefix)?.get(key);
    if (own !== undefined) return own ?? undefined;
    return this.#parent?.read(prefix, key);
  }

  write(prefix: string, key: string, entry: MemoryEntry | null): void {
    let rows = this.#rows.get(prefix);
    if (rows === undefined) {
      rows = new Map();
      this.#rows.set(prefix, rows);
    }
    if (entry === null && this.#parent === undefined) {
      rows.delete(key);
      if (rows.size === 0) this.#rows.delete(prefix);
    } else {
      rows.set(key, entry);
    }
  }

  /** The keys this prefix has as seen from this layer, unordered. */
  keys(prefix: string): Set<string> {
    const keys = this.#parent?.keys(prefix) ?? new Set<string>();
    for (const [key, entry] of this.#rows.get(prefix) ?? []) {
      if (entry === null) keys.delete(key);
      else keys.add(key);
    }
    return keys;
  }

  /** Every prefix that may have keys as seen from this layer. */
  prefixes(): Set<string> {
    const prefixes = this.#parent?.prefixes() ?? new Set<string>();
    for (const prefix of this.#rows.keys()) prefixes.add(prefix);
    return prefixes;
  }

  /** The `limit` prefixes with the most bytes of values, with their rows and bytes, largest first. */
  prefixStats(limit: number): PrefixStat[] {
    const stats: PrefixStat[] = [];
    for (const prefix of this.prefixes()) {
      const keys = this.keys(prefix);
      if (keys.size === 0) continue;
      let bytes = 0;
      for (const key of keys) bytes += this.read(prefix, key)?.value.length ?? 0;
      stats.push({ prefix, rows: keys.size, bytes });
    }
    stats.sort((a, b) => b.bytes - a.bytes || b.rows - a.rows || compareCodePoints(a.prefix, b.prefix));
    return stats.slice(0, limit);
  }

  /** The committed rows, under any transaction's layers. */
  root(): MemoryLayer {
    return this.#parent?.root() ?? this;
  }

  /** Hands this layer's changes to its parent: the commit of a transaction (or a savepoint). */
  commitTo(parent: MemoryLayer): void {
    for (const [prefix, rows] of this.#rows) {
      for (const [key, entry] of rows) parent.write(prefix, key, entry);
    }
  }
}
