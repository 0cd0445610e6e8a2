import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { type Store, workflowStoreTable } from "../index.js";
import type { CaseContext } from "./context.js";
import { collect, expectStoreError, freshPrefix, listAll } from "./helpers.js";
import { Random, showInput } from "./random.js";

function byteOrder(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** The core cases: the Go store's, values, list, input checks, close, rows behind the API. */
export function coreCases({ target, store: suiteStore, seed }: CaseContext): void {
  const table = workflowStoreTable(target.schema);
  let store: Store;
  beforeAll(() => {
    store = suiteStore();
  });

  describe("the Go store's cases", () => {
    it("sets and gets a value", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "key1", Buffer.from("value1"));
      expect(await store.get(prefix, "key1")).toEqual(Buffer.from("value1"));
    });

    it("updates a value", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "key1", Buffer.from("value1"));
      await store.set(prefix, "key1", Buffer.from("value2"));
      expect(await store.get(prefix, "key1")).toEqual(Buffer.from("value2"));
    });

    it("removes a value, and removing an absent key is not an error", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "key1", Buffer.from("value1"));
      await store.remove(prefix, "key1");
      expect(await store.get(prefix, "key1")).toBeNull();
      await expect(store.remove(prefix, "key1")).resolves.toBeUndefined();
      await expect(store.remove(freshPrefix(), "never-there")).resolves.toBeUndefined();
    });

    it("lists the keys of one prefix while another prefix has keys too", async () => {
      const prefix = freshPrefix();
      const other = freshPrefix();
      for (const key of ["key1", "key2", "key3"]) await store.set(prefix, key, Buffer.from(key));
      await store.set(other, "key4", Buffer.from("x"));
      expect(await listAll(store, prefix)).toEqual(["key1", "key2", "key3"]);
      expect(await listAll(store, other)).toEqual(["key4"]);
    });

    it("stops listing when the iterator returns false after two keys", async () => {
      const prefix = freshPrefix();
      for (const key of ["key1", "key2", "key3", "key4"]) await store.set(prefix, key, Buffer.from(key));
      const seen: string[] = [];
      await store.list(prefix, (key) => {
        seen.push(key);
        return seen.length < 2;
      });
      expect(seen).toEqual(["key1", "key2"]);
    });

    it("stores and lists prefixes and keys made of SQL and pattern syntax literally", async () => {
      const hostile = ["'; drop table workflow_store; --", "%", "_", "\\", "a%", "a_", "a\\%", '"', "$1"];
      const base = freshPrefix();
      for (const name of hostile) {
        await store.set(`${base}/${name}`, name, Buffer.from(name));
        await store.set(base, name, Buffer.from(name));
      }
      for (const name of hostile) {
        expect(await listAll(store, `${base}/${name}`)).toEqual([name]);
        expect((await store.get(`${base}/${name}`, name))?.toString()).toBe(name);
        expect(await store.count(`${base}/${name}`)).toBe(1);
      }
      expect((await listAll(store, base)).sort()).toEqual([...hostile].sort());
      expect(await store.removePrefix(`${base}/%`)).toBe(1);
      expect(await store.count(`${base}/a%`)).toBe(1);
      expect(await store.purge({ olderThan: new Date(Date.now() + 60_000), prefix: `${base}/_` })).toBe(1);
      expect(await store.count(`${base}/a_`)).toBe(1);
    });

    it("lists nothing for an unknown prefix", async () => {
      expect(await listAll(store, freshPrefix("unknown"))).toEqual([]);
    });

    it("keeps binary data exactly: 00 01 02 FF FE FD", async () => {
      const prefix = freshPrefix();
      const bytes = Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0xfd]);
      await store.set(prefix, "binary", bytes);
      const read = await store.get(prefix, "binary");
      expect(Buffer.isBuffer(read)).toBe(true);
      expect(read?.equals(bytes)).toBe(true);
    });
  });

  describe("values", () => {
    it("tells an empty value (empty Buffer) from a missing row (null)", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "empty", new Uint8Array(0));
      const read = await store.get(prefix, "empty");
      expect(Buffer.isBuffer(read)).toBe(true);
      expect(read?.length).toBe(0);
      expect(await store.get(prefix, "missing")).toBeNull();
    });

    it("rejects a value over maxValueBytes with INVALID_ARGUMENT before writing, and keeps one at the limit", async () => {
      const limit = 64 * 1024;
      const small = await target.create({ maxValueBytes: limit });
      try {
        const prefix = freshPrefix();
        const atLimit = Buffer.alloc(limit, 7);
        const over = Buffer.alloc(limit + 1, 8);
        await small.set(prefix, "at", atLimit);
        expect(await small.get(prefix, "at")).toEqual(atLimit);
        const error = await expectStoreError(small.set(prefix, "over", over), "INVALID_ARGUMENT");
        expect(error.message).toContain(`more than maxValueBytes (${limit})`);
        await expectStoreError(
          small.setMany(prefix, [
            ["fine", Buffer.from("x")],
            ["over", over],
          ]),
          "INVALID_ARGUMENT",
        );
        await expectStoreError(
          small.transaction((tx) => tx.set(prefix, "over", over)),
          "INVALID_ARGUMENT",
        );
        expect(await small.has(prefix, "over")).toBe(false);
        expect(await small.has(prefix, "fine")).toBe(false);
      } finally {
        await small.close();
      }
    });

    it("round-trips a value of the default maxValueBytes (64 MiB)", async () => {
      const prefix = freshPrefix();
      const big = Buffer.alloc(64 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
      await store.set(prefix, "big", big);
      const read = await store.get(prefix, "big");
      expect(read?.length).toBe(big.length);
      expect(read?.equals(big)).toBe(true);
      await expectStoreError(store.set(prefix, "bigger", Buffer.alloc(big.length + 1)), "INVALID_ARGUMENT");
      await store.remove(prefix, "big");
    }, 120_000);

    it("rejects a setMany of more than 256 MiB of values with INVALID_ARGUMENT before writing", async () => {
      const prefix = freshPrefix();
      // One 64 MiB buffer under five keys: 320 MiB to write, 64 MiB to hold.
      const big = Buffer.alloc(64 * 1024 * 1024);
      const entries = ["a", "b", "c", "d", "e"].map((key) => [key, big] as const);
      const error = await expectStoreError(store.setMany(prefix, entries), "INVALID_ARGUMENT");
      expect(error.message).toContain("the most one setMany writes");
      expect(await store.count(prefix)).toBe(0);
    });

    it("stores exactly the bytes of a Uint8Array view with an offset", async () => {
      const prefix = freshPrefix();
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      await store.set(prefix, "view", backing.subarray(2, 5));
      expect(await store.get(prefix, "view")).toEqual(Buffer.from([1, 2, 3]));
    });

    it("is not changed by the caller reusing the buffer it set or got", async () => {
      const prefix = freshPrefix();
      const value = Buffer.from([1, 2, 3]);
      await store.set(prefix, "k", value);
      value[0] = 42;
      const read = await store.get(prefix, "k");
      if (read === null) throw new Error("missing");
      read[1] = 42;
      expect(await store.get(prefix, "k")).toEqual(Buffer.from([1, 2, 3]));
    });

    it("round-trips a 1 MiB value of every byte", async () => {
      const prefix = freshPrefix();
      const big = Buffer.alloc(1024 * 1024, 0);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) % 256;
      await store.set(prefix, "big", big);
      expect((await store.get(prefix, "big"))?.equals(big)).toBe(true);
    });

    it("round-trips random keys and bytes", async () => {
      const prefix = freshPrefix();
      const random = new Random(seed);
      for (let run = 0; run < 60; run++) {
        const key = random.text(40);
        const bytes = random.bytes(512);
        await store.set(prefix, key, bytes);
        expect(await store.get(prefix, key), `seed ${seed}, run ${run}: ${showInput({ key, bytes })}`).toEqual(
          Buffer.from(bytes),
        );
      }
    });
  });

  describe("list", () => {
    it("yields exactly this prefix: no pattern matching, no longer prefixes", async () => {
      const base = freshPrefix();
      const prefixes = [`${base}/a`, `${base}/a/b`, `${base}/ab`, `${base}/%`, `${base}/_`, `${base}/a%`];
      for (const prefix of prefixes) await store.set(prefix, `in ${prefix}`, Buffer.from("x"));
      for (const prefix of prefixes) expect(await listAll(store, prefix)).toEqual([`in ${prefix}`]);
    });

    it("treats % and _ in keys and prefixes as ordinary characters", async () => {
      const prefix = `${freshPrefix()}%_`;
      await store.set(prefix, "100%", Buffer.from("a"));
      await store.set(prefix, "a_b", Buffer.from("b"));
      expect(await store.get(prefix, "100_")).toBeNull();
      expect(await store.get(prefix, "axb")).toBeNull();
      expect(await listAll(store, prefix)).toEqual(["100%", "a_b"]);
    });

    it("yields keys in byte order (UTF-8, C collation)", async () => {
      const prefix = freshPrefix();
      const keys = ["b", "B", "a", "A", "_", "%", "é", "e", "z", "ab", "a b", "", "😀", "\uFFFD", "\uE000", "10", "9"];
      for (const key of keys) await store.set(prefix, key, Buffer.from(key));
      expect(await listAll(store, prefix)).toEqual(byteOrder(keys));
    });

    it("stops when an async iterator resolves false", async () => {
      const prefix = freshPrefix();
      for (const key of ["a", "b", "c"]) await store.set(prefix, key, Buffer.from(key));
      const seen: string[] = [];
      await store.list(prefix, async (key) => {
        seen.push(key);
        return key !== "b";
      });
      expect(seen).toEqual(["a", "b"]);
    });

    it("passes on an error thrown by the iterator", async () => {
      const prefix = freshPrefix();
      await store.set(prefix, "a", Buffer.from("a"));
      const thrown = new Error("from the iterator");
      await expect(
        store.list(prefix, () => {
          throw thrown;
        }),
      ).rejects.toBe(thrown);
    });

    it("pages through many keys in order, each once", async () => {
      const paged = await target.create({ pageSize: 3, max: 1 });
      try {
        const prefix = freshPrefix();
        const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, "0")}`);
        for (const key of keys) await paged.set(prefix, key, Buffer.from(key));
        expect(await listAll(paged, prefix)).toEqual(keys);
      } finally {
        await paged.close();
      }
    });

    it("lets the iterator call get, set and remove on one connection, without repeats or errors", async () => {
      const single = await target.create({ pageSize: 2, max: 1 });
      try {
        const prefix = freshPrefix();
        for (const key of ["a", "c", "e", "g", "i"]) await single.set(prefix, key, Buffer.from(key));
        const seen: string[] = [];
        await single.list(prefix, async (key) => {
          seen.push(key);
          expect(await single.get(prefix, key)).toEqual(Buffer.from(key));
          if (key === "a") {
            await single.remove(prefix, "a"); // behind the cursor
            await single.set(prefix, "b", Buffer.from("b")); // behind the next page
            await single.remove(prefix, "g"); // ahead, on a later page
            await single.set(prefix, "h", Buffer.from("h")); // ahead, on a later page
          }
        });
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toEqual(["a", "c", "e", "h", "i"]);
        expect(await listAll(single, prefix)).toEqual(["b", "c", "e", "h", "i"]);
      } finally {
        await single.close();
      }
    });
  });

  describe("input is checked before anything is written", () => {
    const tooLong = "x".repeat(256);
    const bad: [string, unknown, unknown][] = [
      ["a prefix that is not a string", 42, "k"],
      ["a key that is not a string", "p", null],
      ["a key of 256 characters", "p", tooLong],
      ["a prefix of 256 characters", tooLong, "k"],
      ["a key with NUL", "p", "a\0b"],
      ["a prefix with NUL", "p\0", "k"],
      ["a key with a lone high surrogate", "p", "a\uD800"],
      ["a key with a lone low surrogate", "p", "\uDC00b"],
    ];
    for (const [what, prefix, key] of bad) {
      it(`rejects ${what} with INVALID_ARGUMENT on every call`, async () => {
        const calls: Promise<unknown>[] = [
          store.set(prefix as string, key as string, Buffer.from("v")),
          store.get(prefix as string, key as string),
          store.remove(prefix as string, key as string),
        ];
        for (const call of calls) await expectStoreError(call, "INVALID_ARGUMENT");
        if (typeof prefix !== "string" || prefix.includes("\0") || prefix.length > 255) {
          await expectStoreError(
            store.list(prefix as string, () => {}),
            "INVALID_ARGUMENT",
          );
        }
        if (typeof prefix === "string" && typeof key === "string" && !prefix.includes("\0")) {
          expect(await listAll(store, prefix.slice(0, 255))).not.toContain(key);
        }
      });
    }

    for (const [what, value] of [
      ["a string", "text"],
      ["null", null],
      ["a number array", [1, 2]],
      ["an ArrayBuffer", new ArrayBuffer(2)],
    ] as const) {
      it(`rejects a value that is ${what}, and writes nothing`, async () => {
        const prefix = freshPrefix();
        const error = await expectStoreError(
          store.set(prefix, "k", value as unknown as Uint8Array),
          "INVALID_ARGUMENT",
        );
        expect(error.op).toBe("set");
        expect(error.prefix).toBe(prefix);
        expect(error.key).toBe("k");
        expect(error.message).toContain(prefix);
        expect(await store.get(prefix, "k")).toBeNull();
      });
    }

    it("accepts 255 characters, and 200 emoji (counted as PostgreSQL counts characters)", async () => {
      const prefix = freshPrefix();
      const emoji = "😀".repeat(200);
      const longest = "y".repeat(255);
      await store.set(prefix, emoji, Buffer.from("e"));
      await store.set(prefix, longest, Buffer.from("l"));
      await store.set(longest, longest, Buffer.from("p"));
      expect(await store.get(prefix, emoji)).toEqual(Buffer.from("e"));
      expect(await store.get(prefix, longest)).toEqual(Buffer.from("l"));
      expect(await store.get(longest, longest)).toEqual(Buffer.from("p"));
      await expectStoreError(store.set(prefix, "😀".repeat(256), Buffer.from("e")), "INVALID_ARGUMENT");
    });

    it("rejects a list iterator that is not a function", async () => {
      await expectStoreError(store.list(freshPrefix(), "nope" as never), "INVALID_ARGUMENT");
    });
  });

  it("takes many concurrent writers of one key: none fails and one value wins whole", async () => {
    const prefix = freshPrefix();
    const values = Array.from({ length: 20 }, (_, i) => Buffer.alloc(64, i));
    await Promise.all(values.map((value) => store.set(prefix, "contended", value)));
    const read = await store.get(prefix, "contended");
    expect(values.some((value) => read?.equals(value))).toBe(true);
  });

  describe("close", () => {
    it("rejects every call after close with CLOSED, and closing twice is fine", async () => {
      const closing = await target.create();
      await closing.close();
      await closing.close();
      await expectStoreError(closing.get("p", "k"), "CLOSED");
      await expectStoreError(closing.set("p", "k", Buffer.from("v")), "CLOSED");
      await expectStoreError(closing.remove("p", "k"), "CLOSED");
      await expectStoreError(
        closing.list("p", () => {}),
        "CLOSED",
      );
    });
  });

  const db = target.db;
  describe.skipIf(db === undefined)(
    `rows behind the API${db ? "" : " (skipped: no second handle on this database)"}`,
    () => {
      const row = async (prefix: string, key: string) => {
        if (db === undefined) throw new Error("unreachable");
        const [found] = await db()
          .select({
            value: table.value,
            hex: sql<string>`encode(${table.value}, 'hex')`,
            createdAt: table.createdAt,
            updatedAt: table.updatedAt,
            createdEpoch: sql<string>`extract(epoch from ${table.createdAt})`,
          })
          .from(table)
          .where(and(eq(table.prefix, prefix), eq(table.key, key)));
        return found;
      };

      it("writes the exact bytes and UTC timestamps from the database clock, in a non-UTC session", async () => {
        const prefix = freshPrefix();
        const before = Date.now();
        await store.set(prefix, "k", Buffer.from([0, 1, 0xff]));
        const after = Date.now();
        const written = await row(prefix, "k");
        expect(written?.hex).toBe("0001ff");
        expect(written?.value).toEqual(Buffer.from([0, 1, 0xff]));
        // The same instant read as a Date by Drizzle and as seconds by PostgreSQL, both near now.
        const created = written?.createdAt?.getTime() ?? 0;
        expect(created).toBeGreaterThanOrEqual(before - 2000);
        expect(created).toBeLessThanOrEqual(after + 2000);
        expect(Number(written?.createdEpoch) * 1000).toBeCloseTo(created, -1);
        expect(written?.updatedAt?.getTime()).toBe(created);
      });

      it("keeps created_at and moves updated_at on overwrite", async () => {
        const prefix = freshPrefix();
        await store.set(prefix, "k", Buffer.from("one"));
        const first = await row(prefix, "k");
        await new Promise((resolve) => setTimeout(resolve, 20));
        await store.set(prefix, "k", Buffer.from("two"));
        const second = await row(prefix, "k");
        expect(second?.createdAt).toEqual(first?.createdAt);
        expect(second?.updatedAt?.getTime()).toBeGreaterThan(first?.updatedAt?.getTime() ?? Number.POSITIVE_INFINITY);
        expect(second?.value).toEqual(Buffer.from("two"));
      });

      it("turns bytea into a Buffer when it arrives as text, as through JSON", async () => {
        if (db === undefined) throw new Error("unreachable");
        const prefix = freshPrefix();
        await store.set(prefix, "k", Buffer.from([0, 1, 0xff]));
        const [read] = await db()
          .select({
            viaText: sql`${table.value}::text`.mapWith(table.value),
            viaJson: sql`json_build_object('v', ${table.value}) ->> 'v'`.mapWith(table.value),
          })
          .from(table)
          .where(and(eq(table.prefix, prefix), eq(table.key, "k")));
        expect(read?.viaText).toEqual(Buffer.from([0, 1, 0xff]));
        expect(read?.viaJson).toEqual(Buffer.from([0, 1, 0xff]));
      });

      it("leaves no row behind remove", async () => {
        const prefix = freshPrefix();
        await store.set(prefix, "k", Buffer.from("v"));
        await store.remove(prefix, "k");
        expect(await row(prefix, "k")).toBeUndefined();
      });

      it("says why it cannot read a stored value over maxValueBytes, and reads it with a larger one", async () => {
        if (db === undefined) throw new Error("unreachable");
        const prefix = freshPrefix();
        const big = Buffer.alloc(2048, 1);
        await db().insert(table).values({ prefix, key: "big", value: big });
        await store.set(prefix, "small", Buffer.from("s"));
        const strict = await target.create({ maxValueBytes: 1024 });
        try {
          for (const read of [
            () => strict.get(prefix, "big"),
            () => strict.getMany(prefix, ["big", "small"]),
            () => collect(strict.entries(prefix)),
          ]) {
            const error = await expectStoreError(read(), "QUERY");
            expect(error.message).toContain("the stored value is 2048 bytes, more than maxValueBytes (1024)");
            expect(error.key).toBe("big");
          }
          expect((await strict.get(prefix, "small"))?.toString()).toBe("s");
        } finally {
          await strict.close();
        }
        expect(await store.get(prefix, "big")).toEqual(big);
      });

      it("reads a NULL value written by the Go store as the Go store does: missing", async () => {
        if (db === undefined) throw new Error("unreachable");
        const prefix = freshPrefix();
        await db().insert(table).values({ prefix, key: "null", value: null });
        await store.set(prefix, "set", Buffer.from("v"));
        expect(await store.get(prefix, "null")).toBeNull();
        expect(await store.has(prefix, "null")).toBe(false);
        expect([...(await store.getMany(prefix, ["null", "set"])).keys()]).toEqual(["set"]);
        const entries: string[] = [];
        for await (const entry of store.entries(prefix)) entries.push(entry.key);
        expect(entries).toEqual(["set"]);
        // Its key is listed, as the Go store's list selects keys alone.
        expect(await listAll(store, prefix)).toEqual(["null", "set"]);
        expect(await store.count(prefix)).toBe(2);
        // A set over it writes a value, as over any row.
        await store.set(prefix, "null", Buffer.from("now"));
        expect((await store.get(prefix, "null"))?.toString()).toBe("now");
      });
    },
  );
}
