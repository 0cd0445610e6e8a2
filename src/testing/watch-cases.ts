import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { type Store, type WatchEvent, type WatchOptions, workflowStoreTable, workflowStoreTables } from "../index.js";
import { applyEvents } from "./apply-events.js";
import type { CaseContext } from "./context.js";
import { expectStoreError, freshPrefix } from "./helpers.js";

const bytes = (text: string) => Buffer.from(text);

/** How long a case waits for a change it expects before it fails. */
const EVENT_WAIT_MS = 5000;

/** The changes a watch reads, with a deadline on each wait: a missing change fails the case instead of hanging it. */
interface WatchReader {
  readonly iterator: AsyncIterableIterator<WatchEvent>;
  /** The next `count` changes; rejects when the watch ends or a change is later than `waitMs`. */
  take(count: number, waitMs?: number): Promise<WatchEvent[]>;
  /** Changes up to and including the first that `last` accepts. */
  until(last: (event: WatchEvent) => boolean, waitMs?: number): Promise<WatchEvent[]>;
  /** What the next `next()` settles with (a change, the end, or an error), within `waitMs`. */
  next(waitMs?: number): Promise<IteratorResult<WatchEvent>>;
  /** Whether a `next()` is waiting, not settled within `waitMs`. */
  idle(waitMs: number): Promise<boolean>;
}

function deadline<T>(pending: Promise<T>, waitMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${waitMs} ms`)), waitMs);
  });
  return Promise.race([pending, late]).finally(() => clearTimeout(timer));
}

/**
 * Reads a watch with deadlines. A `next()` that outlives its deadline is kept for the next read,
 * so that no change is lost between reads.
 *
 * @example
 * const reader = watchReader(store.watch(prefix, { fromRevision }));
 * expect(await reader.take(2)).toEqual([...]);
 */
export function watchReader(iterator: AsyncIterableIterator<WatchEvent>): WatchReader {
  let pending: Promise<IteratorResult<WatchEvent>> | undefined;
  const next = async (waitMs = EVENT_WAIT_MS) => {
    pending ??= iterator.next();
    // A rejection is read by the caller of whichever read gets it.
    pending.catch(() => {});
    const waiting = pending;
    const settle = () => {
      if (pending === waiting) pending = undefined;
    };
    waiting.then(settle, settle);
    return deadline(waiting, waitMs, "change");
  };
  const reader: WatchReader = {
    iterator,
    next,
    async take(count, waitMs) {
      const events: WatchEvent[] = [];
      while (events.length < count) {
        const result = await next(waitMs).catch((error: Error) => {
          error.message += ` (after ${events.length} of ${count} changes: ${JSON.stringify(events)})`;
          throw error;
        });
        if (result.done) throw new Error(`the watch ended after ${events.length} of ${count} changes`);
        events.push(result.value);
      }
      return events;
    },
    async until(last, waitMs) {
      const events: WatchEvent[] = [];
      for (;;) {
        const [event] = await reader.take(1, waitMs);
        if (event === undefined) continue;
        events.push(event);
        if (last(event)) return events;
      }
    },
    async idle(waitMs) {
      pending ??= iterator.next();
      pending.catch(() => {});
      const settled = await Promise.race([
        pending.then(
          () => true,
          () => true,
        ),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), waitMs)),
      ]);
      return !settled;
    },
  };
  return reader;
}

/** Writes a key of its own to `prefix` and returns its revision: watching from it delivers every later change. */
export async function markRevision(store: Store, prefix: string, key = "~mark"): Promise<number> {
  await store.set(prefix, key, bytes(String(Math.random())));
  const written = await store.getWithRevision(prefix, key);
  if (written === null) throw new Error("the mark is gone");
  return written.revision;
}

/**
 * A watch of `prefix` that is live: a write after this resolves is delivered as a change of its
 * own (a replay of storage gives only each key's latest set).
 */
export async function liveWatch(
  store: Store,
  prefix: string,
  options?: { signal?: AbortSignal },
): Promise<WatchReader> {
  const from = await markRevision(store, prefix, "~from");
  const reader = watchReader(store.watch(prefix, { ...options, fromRevision: from }));
  // Read after the replay that starts the watch, or live: either way every later write is live.
  // (At or after: a watch starting beside this one on the prefix may write the mark again.)
  const started = await markRevision(store, prefix, "~started");
  await reader.until((event) => event.revision >= started);
  return reader;
}

/** Whether revisions only go up, each change seen once. */
function increasing(events: readonly WatchEvent[]): boolean {
  return events.every((event, i) => i === 0 || event.revision > (events[i - 1] as WatchEvent).revision);
}

/** Watch: live changes of exactly one prefix, resuming after a revision, ending, transactions, input checks. */
export function watchCases({ target, store: suiteStore }: CaseContext): void {
  let store: Store;
  beforeAll(() => {
    store = suiteStore();
  });

  /** A watch of `prefix` from `fromRevision`, read with deadlines; the case ends it. */
  const watching = (prefix: string, options?: WatchOptions) => watchReader(store.watch(prefix, options));

  describe("watch", () => {
    it("delivers the sets and removes of exactly its prefix, in revision order, with the revisions writes report", async () => {
      const prefix = freshPrefix();
      const reader = await liveWatch(store, prefix);
      try {
        // Each change is read before the next write: a key written again before the watch reads
        // it is delivered once, at its latest revision (see the next case).
        await store.set(prefix, "a", bytes("1"));
        const a1 = (await store.getWithRevision(prefix, "a"))?.revision;
        expect(await reader.take(1)).toEqual([{ type: "set", key: "a", revision: a1 }]);
        const b1 = await store.setIf(prefix, "b", bytes("2"), { revision: 0 });
        expect(await reader.take(1)).toEqual([{ type: "set", key: "b", revision: b1 }]);
        await store.setMany(prefix, [
          ["c", bytes("3")],
          ["d", bytes("4")],
        ]);
        const c1 = (await store.getWithRevision(prefix, "c"))?.revision;
        const d1 = (await store.getWithRevision(prefix, "d"))?.revision;
        expect(await reader.take(2)).toEqual(
          [
            { type: "set", key: "c", revision: c1 },
            { type: "set", key: "d", revision: d1 },
          ].sort((x, y) => (x.revision ?? 0) - (y.revision ?? 0)),
        );
        const a2 = await store.setIf(prefix, "a", bytes("5"), { revision: a1 ?? 0 });
        expect(await reader.take(1)).toEqual([{ type: "set", key: "a", revision: a2 }]);
        await store.remove(prefix, "a");
        await store.removeIf(prefix, "b", { revision: b1 });
        const removes = await reader.take(2);
        expect(removes.map(({ type, key }) => ({ type, key }))).toEqual([
          { type: "remove", key: "a" },
          { type: "remove", key: "b" },
        ]);
        expect(increasing(removes)).toBe(true);
        expect(removes[0]?.revision).toBeGreaterThan(a2);
        // Longer and shorter prefixes, and another one, are not this prefix.
        await store.set(`${prefix}/child`, "x", bytes("x"));
        await store.set(`${prefix}x`, "y", bytes("y"));
        await store.set(prefix.slice(0, -1), "z", bytes("z"));
        await store.set(freshPrefix(), "w", bytes("w"));
        expect(await store.removePrefix(prefix)).toBe(4);
        // One statement removed four keys: one event, from the first key to the last in byte order.
        const [range] = await reader.take(1);
        expect(range).toEqual({ type: "removeRange", key: "c", lastKey: "~started", revision: range?.revision });
        expect(range?.revision).toBeGreaterThan(removes[1]?.revision ?? 0);
        // Nothing of the other prefixes came before this prefix's next change.
        const next = await markRevision(store, prefix, "~end");
        expect(await reader.take(1)).toEqual([{ type: "set", key: "~end", revision: next }]);
      } finally {
        await reader.iterator.return?.();
      }
    });

    it("delivers a key written several times before the watch reads it once, at its latest revision, after the changes before it", async () => {
      const prefix = freshPrefix();
      const reader = await liveWatch(store, prefix);
      try {
        await store.set(prefix, "a", bytes("1"));
        await store.set(prefix, "b", bytes("1"));
        await store.set(prefix, "a", bytes("2"));
        await store.set(prefix, "c", bytes("1"));
        await store.remove(prefix, "c");
        const end = await markRevision(store, prefix, "~end");
        const events = await reader.until((event) => event.revision === end);
        expect(increasing(events)).toBe(true);
        const a = (await store.getWithRevision(prefix, "a"))?.revision;
        // "a" may come at its first revision too, if the watch read between the writes; never after its latest.
        expect(events.filter((event) => event.key === "a").at(-1)).toEqual({ type: "set", key: "a", revision: a });
        expect(events.find((event) => event.key === "c" && event.type === "remove")).toBeDefined();
        const stored = new Set<string>();
        for await (const key of store.keys(prefix)) stored.add(key);
        const view = applyEvents(
          new Map([
            ["~from", 0],
            ["~started", 0],
          ]),
          events,
          stored,
        );
        expect(new Set(view.keys())).toEqual(stored);
      } finally {
        await reader.iterator.return?.();
      }
    });

    it("resumes after fromRevision with each key's latest set and every remove, then goes live, missing and repeating nothing", async () => {
      const prefix = freshPrefix();
      const from = await markRevision(store, prefix);
      // More changes than a replay reads per query, so that the replay crosses pages.
      const many = Array.from(
        { length: 1200 },
        (_, i) => [`k${String(i).padStart(4, "0")}`, bytes(String(i))] as const,
      );
      await store.setMany(prefix, many);
      await store.set(prefix, "a", bytes("1"));
      await store.set(prefix, "b", bytes("1"));
      await store.set(prefix, "a", bytes("2"));
      await store.remove(prefix, "b");
      expect(await store.removeMany(prefix, ["k0003", "k0500", "k1100"])).toBe(3);
      await store.set(prefix, "k0500", bytes("again"));

      const reader = watching(prefix, { fromRevision: from });
      try {
        // Writes while the watch replays: each of them is delivered, once, after the replay.
        const first = await reader.take(1);
        const live: Promise<number>[] = [];
        for (let i = 0; i < 20; i++) live.push(store.setIf(prefix, `live${i}`, bytes("x"), { revision: 0 }));
        const written = await Promise.all(live);
        await store.remove(prefix, "k0010");
        const end = await markRevision(store, prefix, "~end");
        const events = [...first, ...(await reader.until((event) => event.revision === end))];

        expect(increasing(events)).toBe(true);
        // Each key's latest state is what storage holds now.
        const last = new Map<string, WatchEvent>();
        for (const event of events) last.set(event.key, event);
        const stored = new Map<string, number>();
        for await (const entry of store.entries(prefix)) stored.set(entry.key, entry.revision);
        for (const [key, revision] of stored) {
          if (key === "~mark") continue;
          expect(last.get(key), key).toEqual({ type: "set", key, revision });
        }
        for (const key of ["b", "k0010"]) expect(last.get(key)?.type, key).toBe("remove");
        // removeMany of three keys is one range; "k0500", set again after it, comes after it.
        const range = events.find((event) => event.type === "removeRange");
        expect(range).toEqual({ type: "removeRange", key: "k0003", lastKey: "k1100", revision: range?.revision });
        expect(last.get("k0500")?.revision).toBeGreaterThan(range?.revision ?? 0);
        // Applied in order, the events give what storage holds.
        stored.delete("~mark");
        const view = applyEvents(new Map(), events, new Set(stored.keys()));
        expect(view).toEqual(stored);
        // The replay gives latest sets only: "a" once, at its second revision.
        expect(events.filter((event) => event.key === "a")).toHaveLength(1);
        expect(events.some((event) => event.key === "~mark")).toBe(false);
        // Every live write was delivered with the revision it returned.
        for (const [i, revision] of written.entries()) {
          expect(events).toContainEqual({ type: "set", key: `live${i}`, revision });
        }
      } finally {
        await reader.iterator.return?.();
      }
    });

    it("without fromRevision, starts after the prefix's latest change", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "before", bytes("1"));
      const reader = watching(prefix);
      try {
        // The watch is live once one of these marks arrives; later writes are all delivered.
        let lastMark = 0;
        for (let i = 0; ; i++) {
          lastMark = await markRevision(store, prefix, "~live");
          if (!(await reader.idle(i < 5 ? 20 : 100))) break;
          if (i > 100) throw new Error("the watch never went live");
        }
        const marks = await reader.until((event) => event.revision === lastMark);
        // The change from before the watch is not delivered: only marks come first.
        expect(marks.every((event) => event.key === "~live")).toBe(true);
        const after = await store.setIf(prefix, "after", bytes("2"), { revision: 0 });
        expect(await reader.take(1)).toEqual([{ type: "set", key: "after", revision: after }]);
      } finally {
        await reader.iterator.return?.();
      }
    });

    it("ends without an error when its signal aborts, while waiting or before it starts", async () => {
      const prefix = freshPrefix();
      const from = await markRevision(store, prefix);
      const controller = new AbortController();
      const reader = watching(prefix, { fromRevision: from, signal: controller.signal });
      await store.set(prefix, "a", bytes("1"));
      expect((await reader.take(1))[0]?.key).toBe("a");
      expect(await reader.idle(20)).toBe(true);
      controller.abort();
      expect(await reader.next()).toEqual({ done: true, value: undefined });
      await store.set(prefix, "b", bytes("1"));
      expect(await reader.next()).toEqual({ done: true, value: undefined });

      const seen: WatchEvent[] = [];
      for await (const event of store.watch(prefix, { fromRevision: from, signal: AbortSignal.abort() })) {
        seen.push(event);
      }
      expect(seen).toEqual([]);

      // A for-await loop ends when the signal aborts during the loop.
      const looping = new AbortController();
      const keys: string[] = [];
      for await (const event of store.watch(prefix, { fromRevision: from, signal: looping.signal })) {
        keys.push(event.key);
        if (event.key === "b") looping.abort();
      }
      expect(keys).toEqual(["a", "b"]);
    });

    it("stops when the loop breaks: the iterator is done and later writes are not read", async () => {
      const prefix = freshPrefix();
      const from = await markRevision(store, prefix);
      await store.set(prefix, "a", bytes("1"));
      await store.set(prefix, "b", bytes("1"));
      const iterator = store.watch(prefix, { fromRevision: from });
      const keys: string[] = [];
      for await (const event of iterator) {
        keys.push(event.key);
        break;
      }
      expect(keys).toEqual(["a"]);
      await store.set(prefix, "c", bytes("1"));
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    });

    it("never delivers the writes of a rolled-back transaction, and delivers a committed one's", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "kept", bytes("1"));
      const from = await markRevision(store, prefix);
      const reader = await liveWatch(store, prefix);
      try {
        const failure = new Error("roll back");
        await expect(
          store.transaction(async (tx) => {
            await tx.set(prefix, "rolled-back", bytes("1"));
            await tx.remove(prefix, "kept");
            throw failure;
          }),
        ).rejects.toBe(failure);
        const committed = await store.transaction(async (tx) => {
          await tx.set(prefix, "committed", bytes("1"));
          await tx.remove(prefix, "kept");
          return (await tx.getWithRevision(prefix, "committed"))?.revision;
        });
        const end = await markRevision(store, prefix, "~end");
        const events = await reader.until((event) => event.revision === end);
        expect(events.map(({ type, key }) => `${type} ${key}`)).toEqual(["set committed", "remove kept", "set ~end"]);
        expect(events[0]?.revision).toBe(committed);
      } finally {
        await reader.iterator.return?.();
      }
      // Nor does a replay of storage give them.
      const replay = watching(prefix, { fromRevision: from });
      try {
        const events = await replay.until((event) => event.key === "~end");
        expect(events.map(({ type, key }) => `${type} ${key}`)).toEqual([
          "set ~from",
          "set ~started",
          "set committed",
          "remove kept",
          "set ~end",
        ]);
      } finally {
        await replay.iterator.return?.();
      }
    });

    it("checks its arguments when iteration starts, rejecting with INVALID_ARGUMENT", async () => {
      const prefix = freshPrefix();
      const bad: [unknown, unknown][] = [
        [42, undefined],
        ["x".repeat(256), undefined],
        [prefix, "options"],
        [prefix, { fromRevision: -1 }],
        [prefix, { fromRevision: 1.5 }],
        [prefix, { fromRevision: "3" }],
        [prefix, { signal: "abort" }],
      ];
      for (const [badPrefix, options] of bad) {
        // The call itself does not throw: a for-await loop sees the error.
        const iterator = store.watch(badPrefix as string, options as WatchOptions);
        const error = await expectStoreError(iterator.next(), "INVALID_ARGUMENT");
        expect(error.op).toBe("watch");
        expect(await iterator.next()).toEqual({ done: true, value: undefined });
      }
    });

    it("delivers every write of concurrent writers, each once, in revision order", async () => {
      const prefix = freshPrefix();
      // Stores of their own where the target has a database they share; the suite's store otherwise.
      const own = target.db === undefined ? [] : await Promise.all([1, 2, 3].map(() => target.create()));
      const writers = own.length > 0 ? own : [store, store, store];
      const reader = await liveWatch(store, prefix);
      try {
        const rounds = 15;
        const written = (
          await Promise.all(
            writers.map(async (writer, w) => {
              const revisions: WatchEvent[] = [];
              for (let i = 0; i < rounds; i++) {
                const key = `w${w}-${i}`;
                revisions.push({
                  type: "set",
                  key,
                  revision: await writer.setIf(prefix, key, bytes("x"), { revision: 0 }),
                });
              }
              return revisions;
            }),
          )
        ).flat();
        const events = await reader.take(written.length);
        expect(increasing(events)).toBe(true);
        expect(events).toEqual([...written].sort((a, b) => a.revision - b.revision));
      } finally {
        await reader.iterator.return?.();
        for (const writer of own) await writer.close();
      }
    });

    it("works on a store of one connection: the watch's reads do not wait for its listening", async () => {
      const single = await target.create({ max: 1 });
      const prefix = freshPrefix();
      try {
        const from = await markRevision(single, prefix);
        await single.set(prefix, "a", bytes("1"));
        const reader = watchReader(single.watch(prefix, { fromRevision: from }));
        expect((await reader.take(1))[0]?.key).toBe("a");
        await single.set(prefix, "b", bytes("1"));
        expect((await reader.take(1))[0]?.key).toBe("b");
        expect(await single.get(prefix, "b")).toEqual(bytes("1"));
        await reader.iterator.return?.();
      } finally {
        await single.close();
      }
    });

    it("rejects with CLOSED when its store closes, and on a closed store", async () => {
      const closing = await target.create();
      const prefix = freshPrefix();
      const from = await markRevision(closing, prefix);
      const reader = watchReader(closing.watch(prefix, { fromRevision: from }));
      await closing.set(prefix, "a", bytes("1"));
      expect((await reader.take(1))[0]?.key).toBe("a");
      const waiting = expectStoreError(reader.next(), "CLOSED");
      await closing.close();
      const error = await waiting;
      expect(error.op).toBe("watch");
      expect(await reader.next()).toEqual({ done: true, value: undefined });
      await expectStoreError(closing.watch(prefix).next(), "CLOSED");
    });

    it.skipIf(target.db === undefined)(
      `rejects a resume from before the compacted revision with COMPACTED, which names where to resume${target.db ? "" : " (skipped: no second handle on this database)"}`,
      async () => {
        const db = target.db?.();
        if (db === undefined) return;
        const table = workflowStoreTable(target.schema);
        const prefix = freshPrefix();
        const from = await markRevision(store, prefix, "doomed");
        await store.remove(prefix, "doomed");
        // With a retention below zero, the next deleting statement (of no row, even) drops every
        // remove: even one of this very instant, as PGlite's clock may not have moved since.
        const { compaction } = workflowStoreTables(target.schema);
        await db.transaction(async (tx) => {
          await tx.update(compaction).set({ retention: "-1 minute" });
          await tx.delete(table).where(and(eq(table.prefix, prefix), eq(table.key, "never-there")));
          await tx.update(compaction).set({ retention: "1 day" });
        });
        const error = await expectStoreError(store.watch(prefix, { fromRevision: from }).next(), "COMPACTED");
        expect([error.op, error.prefix]).toEqual(["watch", prefix]);
        expect(error.revision).toBeGreaterThan(from);
        // From the compacted revision on, the watch runs.
        const reader = watching(prefix, { fromRevision: error.revision ?? 0 });
        try {
          const revision = await store.setIf(prefix, "after", bytes("1"), { revision: 0 });
          expect(await reader.take(1)).toEqual([{ type: "set", key: "after", revision }]);
        } finally {
          await reader.iterator.return?.();
        }
      },
    );
  });
}
