import { randomBytes } from "node:crypto";
import type Keyv from "keyv";
import type { Store } from "../src/index.js";
import { concurrently } from "./measure.js";

/** The i-th key of a seeded prefix; zero-padded, so byte order is numeric order. */
export function key(i: number): string {
  return `k${String(i).padStart(7, "0")}`;
}

/** `count` entries of random (incompressible) values of `size` bytes. */
export function entries(count: number, size: number): [string, Buffer][] {
  return Array.from({ length: count }, (_, i) => [key(i), randomBytes(size)]);
}

/** Where a path's rows live, and how the bench writes them there without measuring it. */
export interface Home {
  /** Writes keys 0 … count-1 of `prefix`, once per prefix and home. */
  seed(prefix: string, count: number, size: number): Promise<void>;
  /** Removes every key of `prefix`. */
  clear(prefix: string): Promise<void>;
}

/** Rows per seeding statement, so that one carries at most a few MiB. */
function chunkRows(size: number): number {
  return Math.max(1, Math.min(10_000, Math.floor((4 * 1024 * 1024) / size)));
}

/**
 * A home seeded by `write`, in chunks of at most 4 MiB, then `analyze`d (PGlite has no autovacuum
 * to take the statistics, and the server's may not have got to it yet).
 */
export function chunkedHome(
  write: (prefix: string, chunk: [string, Buffer][]) => Promise<unknown>,
  clear: (prefix: string) => Promise<unknown>,
  analyze: () => Promise<unknown>,
): Home {
  const seeded = new Set<string>();
  return {
    async seed(prefix, count, size) {
      if (seeded.has(prefix)) return;
      const step = chunkRows(size);
      for (let first = 0; first < count; first += step) {
        const chunk = Array.from({ length: Math.min(step, count - first) }, (_, i): [string, Buffer] => [
          key(first + i),
          randomBytes(size),
        ]);
        await write(prefix, chunk);
      }
      await analyze();
      seeded.add(prefix);
    },
    async clear(prefix) {
      await clear(prefix);
      seeded.delete(prefix);
    },
  };
}

/** A home seeded through a store's own `setMany`. */
export function storeHome(store: Store, analyze: () => Promise<unknown>): Home {
  return chunkedHome(
    (prefix, chunk) => store.setMany(prefix, chunk),
    (prefix) => store.removePrefix(prefix),
    analyze,
  );
}

/** Keyv's own table, `prefix/key` as keys; only `get` reads it back. */
export function keyvHome(keyv: Keyv): Home {
  const seeded = new Set<string>();
  return {
    async seed(prefix, count, size) {
      if (seeded.has(prefix)) return;
      await concurrently(count, 32, (i) => keyv.set(`${prefix}/${key(i)}`, randomBytes(size)));
      seeded.add(prefix);
    },
    async clear() {
      throw new Error("the bench never clears keyv's table");
    },
  };
}
