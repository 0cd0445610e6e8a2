/**
 * Workloads against the outside: writers in separate processes, as deployments run them, and bulk
 * removal, each beside `plain_store`, a table of the store's shape (columns, primary key, byte-order
 * index) without triggers, written with the simplest SQL: what a user would write instead. The
 * table is the one the raw path of `openServer` (paths.ts) created in the bench's database.
 */
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { createPostgresStore, type Store } from "../src/index.js";
import { type Contender, runScript, type Sample, type Workload } from "./measure.js";
import type { Sizes } from "./sizes.js";

const WRITER = fileURLToPath(new URL("./process-writer.ts", import.meta.url));
/** Writer processes at once. */
export const PROCESSES = 4;
/** Callers of each writer process. */
export const CALLERS = 8;
/** The one prefix of the hot and watched workloads. */
export const HOT_PREFIX = "/bench/hot";
/** How long after spawning them the processes begin, in milliseconds. */
const START_MS = 1500;
/** Rows a bulk removal statement of the plain floor deletes at once, as the store's purge does. */
const BATCH = 1000;

const run = (args: string[]) => runScript(WRITER, args);

/**
 * Four writer processes of `role` (and a watcher process of the hot prefix, if `watched`) for
 * `ms`: the time 1,000 writes took at the rate they reached, and the watcher's figures as a note.
 */
async function writers(url: string, role: string, prefixes: string, ms: number, watched: boolean): Promise<Sample> {
  // Time to start node and tsx in every process before the writes begin together (a process that
  // starts late writes for less time, which only lowers the count).
  const startAt = String(Date.now() + START_MS);
  const watcher = watched ? run(["watch", url, prefixes, startAt, String(ms)]) : undefined;
  const counts = await Promise.all(
    Array.from({ length: PROCESSES }, () => run([role, url, prefixes, startAt, String(ms)])),
  );
  const writes = counts.reduce((sum, count) => sum + Number(count.writes), 0);
  const watch = await watcher;
  return {
    ms: (1000 * ms) / writes,
    ...(watch && {
      note: `watch p50 ${Number(watch.p50).toFixed(1)} ms, p99 ${Number(watch.p99).toFixed(1)} ms, ${watch.events} events, view ${watch.matches ? "=" : "≠"} table`,
    }),
  };
}

/**
 * Writers with the replay index (`workflow_store_prefix_revision`, of migration 0005) dropped for
 * the run, then built again from its own definition: what the index costs. An update that changes
 * no indexed column stays on its page without touching an index (a HOT update, as on the plain
 * table); the revision changes on every write, so with the index every update writes an entry in
 * each of the table's three indexes.
 */
async function withoutReplayIndex(url: string, probe: () => Promise<Sample>): Promise<Sample> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [index] = await sql<{ definition: string }[]>`
      select indexdef as definition from pg_indexes where indexname = 'workflow_store_prefix_revision'`;
    if (index === undefined) throw new Error("workflow_store_prefix_revision is missing");
    await sql.unsafe("drop index workflow_store_prefix_revision");
    try {
      return await probe();
    } finally {
      await sql.unsafe(index.definition);
    }
  } finally {
    await sql.end();
  }
}

/**
 * The multi-process writes: plain table, the store's table with the same SQL (unwatched, also
 * without its replay index), and `store.set`.
 */
export function processWriteWorkloads(url: string, sizes: Sizes): Workload[] {
  const ms = sizes.processMs;
  const shape = { section: "processes", unit: "ops/s", per: 1000, runs: sizes.slowRuns, warmup: false } as const;
  const contenders = (prefixes: string, watched: boolean): Contender[] => [
    { name: "plain table, simplest upsert (no triggers)", probe: () => writers(url, "plain", prefixes, ms, false) },
    {
      name: `workflow_store, the same upsert${watched ? ", prefix watched" : ""}`,
      probe: () => writers(url, "raw", prefixes, ms, watched),
    },
    ...(watched
      ? []
      : [
          {
            name: "workflow_store without its replay index, the same upsert",
            probe: () => withoutReplayIndex(url, () => writers(url, "raw", prefixes, ms, false)),
          },
        ]),
    {
      name: `store.set${watched ? ", prefix watched" : ""}`,
      probe: () => writers(url, "store", prefixes, ms, watched),
    },
  ];
  const name = (what: string) => `upserts · ${PROCESSES} processes × ${CALLERS} callers · ${what}`;
  return [
    { ...shape, name: name("1,000 prefixes"), contenders: contenders("distinct", false) },
    { ...shape, name: name("one hot prefix"), contenders: contenders("hot", false) },
    { ...shape, name: name("one hot prefix, watched by another process"), contenders: contenders("hot", true) },
    {
      ...shape,
      unit: "ms",
      per: 1,
      name: "watch latency, idle: set, until the watch delivers it",
      contenders: [
        {
          name: "store.set, then store.watch (another store) delivers it",
          probe: async () => {
            const startAt = String(Date.now() + START_MS);
            const watch = await run(["watch", url, "hot", startAt, String(ms)]);
            return { ms: Number(watch.p50), note: `p99 ${Number(watch.p99).toFixed(1)} ms` };
          },
        },
      ],
    },
  ];
}

/**
 * Seeds `rows` rows a day old into `table` (prefixes of 1,000 keys, 256 bytes each) in one
 * statement, and analyzes it; resolves with the prefixes.
 */
async function seedOld(sql: postgres.Sql, table: string, rows: number, tag: string): Promise<string[]> {
  await sql.unsafe(`delete from ${table} where prefix like '/bulk/%'`);
  await sql.unsafe(
    `insert into ${table} (prefix, key, value, created_at, updated_at)
     select '/bulk/${tag}/' || (i / 1000), 'k' || lpad(i::text, 7, '0'), decode(repeat('ab', 256), 'hex'),
       now() - interval '1 day', now() - interval '1 day'
     from generate_series(0, ${rows - 1}) as i`,
  );
  await sql.unsafe(`analyze ${table}`);
  return Array.from({ length: Math.ceil(rows / 1000) }, (_, i) => `/bulk/${tag}/${i}`);
}

/** purge, removePrefix and removeMany of `sizes.bulkRows` rows, against plain batched deletes of the same rows. */
export function bulkRemovalWorkloads(url: string, sizes: Sizes): { workloads: Workload[]; close(): Promise<void> } {
  const rows = sizes.bulkRows;
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  let store: Store | undefined;
  const opened = async () => {
    store ??= await createPostgresStore(url);
    return store;
  };
  let prefixes: string[] = [];
  const cutoff = () => new Date(Date.now() - 3600_000);
  const shape = { section: "main", unit: "ops/s", per: rows, runs: sizes.slowRuns, warmup: false } as const;
  const plain = (name: string, remove: () => Promise<unknown>): Contender => ({
    name,
    setup: async (run) => {
      prefixes = await seedOld(sql, "plain_store", rows, `p${run}`);
    },
    run: remove,
  });
  const ours = (name: string, remove: (store: Store) => Promise<unknown>): Contender => ({
    name,
    setup: async (run) => {
      await opened();
      prefixes = await seedOld(sql, "workflow_store", rows, `s${run}`);
    },
    run: async () => remove(await opened()),
  });
  const keysOf = (prefix: string) => {
    const i = Number(prefix.slice(prefix.lastIndexOf("/") + 1));
    return Array.from({ length: BATCH }, (_, j) => `k${String(i * 1000 + j).padStart(7, "0")}`);
  };
  const workloads: Workload[] = [
    {
      ...shape,
      name: `purge · ${rows.toLocaleString("en-US")} rows a day old (rows removed per second)`,
      contenders: [
        plain(`plain table: delete … in (select … limit ${BATCH}), until none`, async () => {
          for (;;) {
            const done = await sql.unsafe(
              `delete from plain_store where (prefix, key) in
                 (select prefix, key from plain_store where updated_at < $1 limit ${BATCH})`,
              [cutoff()],
            );
            if (done.count === 0) break;
          }
        }),
        ours("store.purge", (store) => store.purge({ olderThan: cutoff() })),
      ],
    },
    {
      ...shape,
      name: `removePrefix · ${rows.toLocaleString("en-US")} rows, prefixes of 1,000 (rows removed per second)`,
      contenders: [
        plain("plain table: delete where prefix = $1", async () => {
          for (const prefix of prefixes) await sql.unsafe("delete from plain_store where prefix = $1", [prefix]);
        }),
        ours("store.removePrefix", async (store) => {
          for (const prefix of prefixes) await store.removePrefix(prefix);
        }),
      ],
    },
    {
      ...shape,
      name: `removeMany · ${rows.toLocaleString("en-US")} rows, ${BATCH} keys a call (rows removed per second)`,
      contenders: [
        plain("plain table: delete where prefix = $1 and key = any($2)", async () => {
          for (const prefix of prefixes) {
            await sql.unsafe("delete from plain_store where prefix = $1 and key = any($2)", [prefix, keysOf(prefix)]);
          }
        }),
        ours("store.removeMany", async (store) => {
          for (const prefix of prefixes) await store.removeMany(prefix, keysOf(prefix));
        }),
      ],
    },
  ];
  return {
    workloads,
    close: async () => {
      await store?.close();
      await sql.end();
    },
  };
}
