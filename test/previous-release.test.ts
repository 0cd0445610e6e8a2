import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createPostgresStore, type WatchEvent } from "../src/index.js";
import { arrayParameter, setRowsParameters } from "../src/postgres/statements/parameters.js";
import { freshPrefix } from "../src/testing/helpers.js";
import { databaseUrl, freshDatabasePerBlock, skipReason } from "./support/postgres.js";

/**
 * The statements of the release before migration 0005 (the store's statements as they were), as Drizzle wrote
 * them: a store of that release still running during a rolling deploy sends these.
 */
type Parameter = { placeholder: string } | { kind: "Param"; value: string } | string | number;
const previous = JSON.parse(
  readFileSync(new URL("./fixtures/previous-release-statements.json", import.meta.url), "utf8"),
) as Record<string, { sql: string; params: Parameter[] }>;

function parameters(name: string, values: Record<string, unknown>): unknown[] {
  const statement = previous[name];
  if (statement === undefined) throw new Error(`no statement ${name}`);
  return statement.params.map((param) => {
    if (typeof param !== "object") return param;
    const wanted = "placeholder" in param ? param.placeholder : param.value;
    if (!(wanted in values)) throw new Error(`${name} needs ${wanted}`);
    return values[wanted];
  });
}

describe.skipIf(databaseUrl === null)(`the previous release beside this one${skipReason}`, () => {
  const fresh = freshDatabasePerBlock();

  it("keeps every call of a store of the previous release working on a migrated table while this store writes the same keys, and this store's watch delivers its writes", async () => {
    const database = await fresh("previous_release");
    const store = await createPostgresStore(database.url);
    const { client } = database.connect();
    const send = (name: string, values: Record<string, unknown>) =>
      client.unsafe(previous[name]?.sql ?? "", parameters(name, values) as never[], { prepare: true });
    const prefix = freshPrefix();
    const keys = ["a", "b", "c"];
    const watch = store.watch(prefix, { fromRevision: 0 });
    const errors: string[] = [];
    try {
      const until = Date.now() + 2000;
      const old = Array.from({ length: 4 }, async (_, worker) => {
        for (let i = 0; Date.now() < until; i++) {
          const key = keys[(worker + i) % keys.length] ?? "a";
          const value = Buffer.from(`old ${worker} ${i}`);
          const step = i % 7;
          try {
            if (step === 0) await send("set", { prefix, key, value });
            else if (step === 1) await send("remove", { prefix, key });
            else if (step === 2) {
              const [row] = await send("insertIfAbsent", { prefix, key, value });
              expect(row).toBeDefined();
            } else if (step === 3) {
              const [row] = await client`select revision from workflow_store where prefix = ${prefix} and key = ${key}`;
              if (row !== undefined) await send("updateIf", { prefix, key, value, revision: row.revision });
            } else if (step === 4) {
              await send("setRows", setRowsParameters([prefix, prefix], [key, `${key}2`], [value, value]));
            } else if (step === 5) {
              await send("removeMany", { prefix, keys: arrayParameter([key, `${key}2`]) });
            } else {
              const [lease] = await send("acquireLease", { name: `${prefix}${key}`, ttlMs: 1000 });
              if (lease !== undefined) await send("releaseLease", { name: `${prefix}${key}`, token: lease.token });
              await send("changesAfter", { prefix, after: 0, limit: 10 });
              await send("latestRevision", { prefix });
            }
          } catch (error) {
            errors.push(`${step}: ${(error as Error).message}`);
          }
        }
      });
      const ours = Array.from({ length: 4 }, async (_, worker) => {
        for (let i = 0; Date.now() < until; i++) {
          const key = keys[(worker + i + 1) % keys.length] ?? "a";
          try {
            if (i % 3 === 2) await store.remove(prefix, key);
            else await store.set(prefix, key, Buffer.from(`new ${worker} ${i}`));
          } catch (error) {
            errors.push(`ours: ${(error as Error).message}`);
          }
        }
      });
      await Promise.all([...old, ...ours]);
      expect(errors).toEqual([]);
      // Every row the previous release wrote took a revision of the trigger.
      const [unrevised] = await client`select count(*)::int as n from workflow_store where revision <= 0`;
      expect(unrevised?.n).toBe(0);
      // This store's watch, read to the end, ends with what the table holds.
      const end = await store.setIf(prefix, "~end", Buffer.from("end"), { revision: 0 });
      const view = new Map<string, number>();
      for await (const event of watch) {
        if (event.type === "set") view.set(event.key, event.revision);
        else if (event.type === "remove") view.delete(event.key);
        else {
          const stored = new Set(
            (await client`select key from workflow_store where prefix = ${prefix}`).map((row) => row.key as string),
          );
          for (const key of [...view.keys()])
            if (key >= event.key && key <= event.lastKey && !stored.has(key)) view.delete(key);
        }
        if ((event as WatchEvent).revision === end) break;
      }
      const rows = await client`select key, revision from workflow_store where prefix = ${prefix}`;
      expect(view).toEqual(new Map(rows.map((row) => [row.key as string, Number(row.revision)])));
    } finally {
      await watch.return?.();
      await store.close();
    }
  }, 30_000);
});
