/**
 * One writer or watcher process of the multi-process workloads (bench/processes.ts), run as
 * `node --import tsx bench/process-writer.ts <role> <url> <prefixes> <startAt> <ms>`; prints one
 * line of JSON.
 *
 * Writers (`plain`, `raw`, `store`) start at `startAt` (ms since the epoch, so that the processes
 * overlap), run 8 callers of single-row upserts of 256 random bytes for `ms`, and print
 * `{ writes }`. `plain` sends the simplest upsert to `plain_store`, a table of the store's shape
 * without triggers (what a user would write instead); `raw` sends the same SQL to `workflow_store`,
 * as the Go store and any other client do; `store` calls `store.set` of `createPostgresStore`.
 * `prefixes` is `distinct` (1,000 prefixes of 100 keys) or `hot` (one prefix of 10,000 keys).
 *
 * The watcher (`watch`) watches the hot prefix from `startAt` to its end, and meanwhile sets a
 * probe key of its own every 20 ms, timing each until its watch delivers it: prints `{ events,
 * p50, p99 }` (ms). Every change is delivered unless the view it builds differs from the table,
 * which it checks once the writers have settled (`{ matches }`).
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";
import { createPostgresStore } from "../src/index.js";
import { applyEvents } from "../src/testing/apply-events.js";
import { CALLERS, HOT_PREFIX } from "./processes.js";

const PROBE = "~probe";
/** How long after the end the writers' last calls have surely settled, in milliseconds. */
const WRITERS_SETTLE_MS = 2000;

const [role, url, prefixes, startAt, ms] = process.argv.slice(2);
if (url === undefined || startAt === undefined || ms === undefined) {
  throw new Error("usage: process-writer.ts <role> <url> <prefixes> <startAt> <ms>");
}
const start = Number(startAt);
const end = start + Number(ms);
const value = randomBytes(256);
const target = () =>
  prefixes === "hot"
    ? { prefix: HOT_PREFIX, key: `node-${Math.floor(Math.random() * 10_000)}` }
    : { prefix: `/run/${Math.floor(Math.random() * 1000)}`, key: `node-${Math.floor(Math.random() * 100)}` };

const upsert = (table: string) => `insert into ${table} (prefix, key, value, created_at, updated_at)
  values ($1, $2, $3, now(), now()) on conflict (prefix, key) do update set value = excluded.value, updated_at = excluded.updated_at`;

async function callers(write: (prefix: string, key: string) => Promise<unknown>): Promise<number> {
  await sleep(Math.max(0, start - Date.now()));
  const counts = await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      let writes = 0;
      while (Date.now() < end) {
        const { prefix, key } = target();
        await write(prefix, key);
        writes++;
      }
      return writes;
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

let result: Record<string, unknown>;
if (role === "plain" || role === "raw") {
  const sql = postgres(url, { max: CALLERS, onnotice: () => {} });
  const text = upsert(role === "plain" ? "plain_store" : "workflow_store");
  await sql`select 1`;
  result = { writes: await callers((prefix, key) => sql.unsafe(text, [prefix, key, value], { prepare: true })) };
  await sql.end();
} else if (role === "store") {
  const store = await createPostgresStore(url);
  result = { writes: await callers((prefix, key) => store.set(prefix, key, value)) };
  await store.close();
} else if (role === "watch") {
  const store = await createPostgresStore(url);
  const view = new Map<string, number>();
  const latencies: number[] = [];
  const stop = new AbortController();
  let events = 0;
  let waiting: { key: string; since: number } | undefined;
  const watching = (async () => {
    // From revision 0: the prefix as earlier runs left it first, so that the view can equal the table.
    for await (const event of store.watch(HOT_PREFIX, { fromRevision: 0, signal: stop.signal })) {
      events++;
      if (event.type === "set" && event.key === waiting?.key) {
        latencies.push(performance.now() - waiting.since);
        waiting = undefined;
      }
      const stored = new Set<string>();
      if (event.type === "removeRange") for await (const key of store.keys(HOT_PREFIX)) stored.add(key);
      applyEvents(view, [event], stored);
    }
  })();
  await sleep(Math.max(0, start - Date.now()));
  for (let i = 0; Date.now() < end; i++) {
    const key = `${PROBE}-${i}`;
    waiting = { key, since: performance.now() };
    await store.set(HOT_PREFIX, key, value);
    const deadline = Date.now() + 5000;
    while (waiting !== undefined && Date.now() < deadline) await sleep(1);
    if (waiting !== undefined) latencies.push(5000);
    await sleep(20);
  }
  // Once the writers' last calls (begun before the end) have settled: every change up to now, then
  // the view against the table. A write that committed after the last probe was delivered would be
  // in the table and not in the view.
  await sleep(Math.max(0, end + WRITERS_SETTLE_MS - Date.now()));
  const last = `${PROBE}-last`;
  waiting = { key: last, since: performance.now() };
  await store.set(HOT_PREFIX, last, value);
  while (waiting !== undefined) await sleep(5);
  stop.abort();
  await watching;
  const table = new Map<string, number>();
  for await (const entry of store.entries(HOT_PREFIX)) table.set(entry.key, entry.revision);
  const matches = table.size === view.size && [...table].every(([key, revision]) => view.get(key) === revision);
  latencies.pop();
  result = { events, p50: percentile(latencies, 50), p99: percentile(latencies, 99), matches };
  await store.close();
} else {
  throw new Error(`unknown role ${role}`);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
