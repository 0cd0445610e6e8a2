import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createPostgresStore } from "../src/index.js";
import { childScript } from "./support/child-scripts.js";
import { type LoadLog, SHARED_KEYS, UNIQUE_EVERY, writeLoad, writerOf } from "./support/load-writer.js";
import { databaseUrl, freshDatabasePerBlock, skipReason } from "./support/postgres.js";
import { runProcess } from "./support/processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const PREFIX = "/load";
const WRITES = 1000;
const WORKERS = 4;
const WORKER_CALLERS = 8;
/** The shared writes of one caller, and its keys of its own. */
const CALLER_WRITES = WRITES + WRITES / UNIQUE_EVERY;

/** How many writes resolved, over all keys. */
const resolvedCount = (resolved: ReadonlyMap<string, readonly string[]>) =>
  [...resolved.values()].reduce((sum, values) => sum + values.length, 0);

/** Each key's resolved values over several logs; a caller's own writes stay in the order they resolved. */
function union(logs: readonly LoadLog[]): Map<string, string[]> {
  const resolved = new Map<string, string[]>();
  for (const log of logs) {
    for (const [key, values] of Object.entries(log.resolved)) {
      const all = resolved.get(key) ?? [];
      all.push(...values);
      resolved.set(key, all);
    }
  }
  return resolved;
}

/**
 * What is wrong with the rows against the writes that resolved, one line each: a key written but
 * missing, a row no write made, a value whose write did not resolve, and a value that is not its
 * writer's last write to the key. Each caller awaits its writes one by one, so its earlier write
 * holding the key means its later, acknowledged one was lost.
 */
function violations(rows: ReadonlyMap<string, string>, resolved: ReadonlyMap<string, readonly string[]>): string[] {
  const found: string[] = [];
  for (const key of rows.keys()) if (!resolved.has(key)) found.push(`${key}: a row no resolved write made`);
  for (const [key, values] of resolved) {
    const value = rows.get(key);
    if (value === undefined) {
      found.push(`${key}: missing after ${values.length} resolved writes`);
      continue;
    }
    if (!values.includes(value)) {
      found.push(`${key}: holds ${value}, which no resolved write to it wrote`);
      continue;
    }
    const last = values.findLast((other) => writerOf(other) === writerOf(value));
    if (last !== value) found.push(`${key}: holds ${value}, but its writer's later ${last} resolved`);
  }
  return found;
}

describe.skipIf(databaseUrl === null)(`load on PostgreSQL${skipReason}`, () => {
  const fresh = freshDatabasePerBlock();

  /** The prefix's rows as plain SQL reads them, behind the store's back: key to decoded value. */
  const readRows = async (database: Awaited<ReturnType<typeof fresh>>) => {
    const { client } = database.connect();
    const rows = await client`select key, value from workflow_store where prefix = ${PREFIX}`;
    return new Map(rows.map((row) => [row.key as string, (row.value as Buffer).toString()]));
  };

  it("keeps every acknowledged upsert of 32 concurrent callers on one store", async () => {
    const callers = 32;
    const database = await fresh("load_one");
    const store = await createPostgresStore(database.url);
    try {
      const log = await writeLoad(store, PREFIX, 0, callers, WRITES);
      expect({ errorCount: log.errorCount, errors: log.errors }).toEqual({ errorCount: 0, errors: [] });
      const resolved = union([log]);
      expect(resolvedCount(resolved)).toBe(callers * CALLER_WRITES);
      const rows = await readRows(database);
      expect(violations(rows, resolved)).toEqual([]);
      expect(rows.size).toBe(SHARED_KEYS + (callers * WRITES) / UNIQUE_EVERY);
      // And the store reads what plain SQL reads.
      const read = await store.getMany(PREFIX, [...rows.keys()]);
      expect(new Map([...read].map(([key, value]) => [key, value.toString()]))).toEqual(rows);
    } finally {
      await store.close();
    }
  }, 120_000);

  it("keeps every acknowledged upsert of four processes writing the same keys at once", async () => {
    const database = await fresh("load_four");
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, worker) =>
        runProcess(
          process.execPath,
          [
            childScript("load-writer"),
            database.url,
            PREFIX,
            String(worker),
            String(WORKER_CALLERS),
            String(WRITES),
            String(WORKERS),
          ],
          { cwd: root, timeoutMs: 100_000 },
        ),
      ),
    );
    const logs = results.map((result, worker) => {
      expect(result.code, `worker ${worker}: ${result.stderr}`).toBe(0);
      return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "") as LoadLog;
    });
    expect(logs.map((log) => ({ errorCount: log.errorCount, errors: log.errors }))).toEqual(
      logs.map(() => ({ errorCount: 0, errors: [] })),
    );
    const resolved = union(logs);
    expect(resolvedCount(resolved)).toBe(WORKERS * WORKER_CALLERS * CALLER_WRITES);
    // Every process wrote every shared key, so the writes did meet on the same rows.
    for (let i = 0; i < SHARED_KEYS; i++) {
      const writers = new Set(resolved.get(`shared-${i}`)?.map((value) => writerOf(value).split(".")[0]));
      expect(writers.size, `shared-${i}`).toBe(WORKERS);
    }
    const rows = await readRows(database);
    expect(violations(rows, resolved)).toEqual([]);
    expect(rows.size).toBe(SHARED_KEYS + (WORKERS * WORKER_CALLERS * WRITES) / UNIQUE_EVERY);
  }, 120_000);
});
