import fs from "node:fs";
import os from "node:os";
import { CAS_CALLERS } from "./coordination.js";
import type { Result, Row, Workload } from "./measure.js";
import { CALLERS, PROCESSES } from "./processes.js";
import type { Sizes } from "./sizes.js";
import { RSS_BOUND_MIB, targetRows } from "./targets.js";

const ROOT = new URL("../", import.meta.url);

function packageVersion(name: string): string {
  const file = new URL(name === "." ? "package.json" : `node_modules/${name}/package.json`, ROOT);
  try {
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

function operatingSystem(): string {
  let name = `${os.type()} ${os.release()}`;
  try {
    const release = fs.readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]*)"?$/m);
    if (release?.[1]) name = `${release[1]}, ${name}`;
  } catch {}
  return `${name} (${os.arch()})`;
}

/** What the figures were measured on and with. */
export interface Context {
  sizes: Sizes;
  date: Date;
  seconds: number;
  serverVersion: string | undefined;
  /** The 1-minute load average when the run started and when it ended: the machine's other work. */
  load: [number, number];
}

function facts(context: Context): [string, string][] {
  const cpus = os.cpus();
  return [
    ["CPU", `${cpus[0]?.model ?? "unknown"} × ${cpus.length}`],
    ["RAM", `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
    ["OS", operatingSystem()],
    ["Node.js", process.version],
    ["PostgreSQL server", context.serverVersion ?? "none (DATABASE_URL unset: embedded only)"],
    ["drizzle-workflow-store", packageVersion(".")],
    ["drizzle-orm", packageVersion("drizzle-orm")],
    ["postgres (postgres.js)", packageVersion("postgres")],
    ["pg (node-postgres)", packageVersion("pg")],
    ["@electric-sql/pglite", packageVersion("@electric-sql/pglite")],
    ["@keyv/postgres / keyv", `${packageVersion("@keyv/postgres")} / ${packageVersion("keyv")}`],
    ["Date", context.date.toISOString()],
    ["Sizes", `${context.sizes.name}, ${Math.round(context.seconds)} s in all`],
    ["Load average (1 min), start / end", context.load.map((load) => load.toFixed(2)).join(" / ")],
  ];
}

function figure(value: number, unit: Workload["unit"]): string {
  if (!Number.isFinite(value)) return "–";
  if (unit === "ops/s") return `${Math.round(value).toLocaleString("en-US")} ops/s`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3;
  return `${value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })} ms`;
}

function ratio(row: Row, index: number): string {
  if (index === 0) return "1.00 (floor)";
  // No ratio to a floor that never got there (a failover it did not write through).
  return Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}` : "–";
}

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** One table per section; a workload's name only on its first row. */
export function tables(results: readonly Result[]): string {
  const section = (name: Workload["section"], header: string[], extra: (row: Row, index: number) => string[]) => {
    const rows = results
      .filter((result) => result.workload.section === name)
      .flatMap(({ workload, rows }) =>
        rows.map((row, index) => [
          index === 0 ? workload.name : "",
          row.path,
          figure(row.value, workload.unit),
          ratio(row, index),
          ...extra(row, index),
        ]),
      );
    return rows.length === 0 ? "" : markdownTable(header, rows);
  };
  const mib = (value: number | undefined) => (value === undefined ? "–" : `${value.toFixed(1)} MiB`);
  // The floor holds every row at once: the bound is the store's.
  const bounded = (value: number | undefined, index: number) =>
    `${mib(value)}${index > 0 && (value ?? 0) > RSS_BOUND_MIB ? " (over the bound)" : ""}`;
  const targets = targetRows(results);
  return [
    ...(targets.length === 0
      ? []
      : [
          "### Targets\n",
          markdownTable(["Target", "Path", "Measured", "Met"], targets),
          "\nEach figure is a ratio of two rows below (above 1: the store is faster), or a memory growth.\n",
        ]),
    "### Operations\n",
    section("main", ["Workload", "Path", "Median", "× floor"], () => []),
    `\n### Writers in separate processes (${PROCESSES} processes × ${CALLERS} callers, single-row upserts of 256 bytes)\n`,
    section("processes", ["Workload", "Path", "Median", "× floor", "Per run"], (row) => [row.note ?? ""]),
    "\nThe floor is `plain_store`: the store's columns, primary key and byte-order index, no triggers,",
    "written with the simplest upsert. `workflow_store, the same upsert` is what the Go store and any",
    "other client send to the store's table; `without its replay index` drops the index",
    "`workflow_store_prefix_revision` for its runs, to show what keeping it costs every update.",
    "Each run starts the processes together and writes for",
    "a fixed time; the figure is writes per second over all of them. A watcher process watches the",
    "hot prefix in the watched rows, and sets a probe key every 20 ms, timed until its watch delivers",
    "it: its p50 and p99, the events it read, and whether the view it built from them equals the table.",
    `\n### Memory: walking \`entries\` (a fresh process each run; the store's bound: ${RSS_BOUND_MIB} MiB)\n`,
    section("memory", ["Workload", "Path", "Median", "× floor", "RSS growth", "live growth"], (row, index) => [
      bounded(row.rssMiB, index),
      bounded(row.liveMiB, index),
    ]),
    "\nRSS growth: the resident set size's peak over its size before the walk, garbage not yet",
    "collected included. Live growth: the heap in use and the memory outside it (Buffers, PGlite's",
    "WebAssembly memory), measured after a full collection every 5% of the rows, over a second walk.",
    "Both are the worst run's.",
    "\n### Past one machine\n",
    section("cluster", ["Workload", "Path", "Median", "× floor", "Runs"], (row) => [row.note ?? ""]),
    "\nFailover: a pg_auto_failover formation of the bench's own (a monitor and two nodes, synchronous",
    "replication, health checks every second), 16 writers of new keys through each path, the",
    "primary lost 1 s after they start. The figure is the time from the loss (`pg_autoctl perform",
    "failover` asked, or the primary's PostgreSQL stopped) until writes succeed again: the end of",
    "the longest stretch without an acknowledged write. Lost: acknowledged writes missing after.",
    "Replica: a primary and a standby made with `pg_basebackup` (both of the bench's own), 4 writer",
    "processes upserting into other prefixes of the primary during each walk; the figure is one walk",
    "of the prefix.",
    "\n### Embedded start (fresh process each run)\n",
    section("start", ["Workload", "Path", "Median", "× floor", "RSS after (worst run)"], (row) => [mib(row.rssMiB)]),
    "\nFrom the call (`PGlite.create()`, `createEmbeddedStore()`) to its first answer; the package and",
    "its modules are loaded before, PGlite on the call, as in an app.",
  ].join("\n");
}

const METHOD = (sizes: Sizes) => `\
How to read it:

- Every workload runs its paths in turn, round after round (A, B, A, B…), in one process against
  one server, after one untimed warm-up round (none for the slow rows); the figure is the median of
  ${sizes.runs} runs (${sizes.slowRuns} for the slow rows: the ${sizes.walkLarge.toLocaleString("en-US")}-key walks, the
  ${sizes.largeValue / 1024} KiB batches, memory and start).
- \`ops/s\` is higher for faster; \`ms\` is per call, lower for faster. **× floor** is the path's
  figure against the workload's first row, its floor: above 1 is faster than the floor.
- PostgreSQL floor: raw postgres.js on \`plain_store\`, a table of the store's shape (columns,
  primary key, byte-order index) without the store's triggers, sending the simplest SQL a user
  would write for each call, one query per call (prepared): \`select value … where prefix = $1
  and key = $2\`, an \`insert … on conflict do update\`, a \`delete\`; for \`keys\`/\`entries\`
  walks, one query returning the whole prefix \`order by key collate "C"\`; for \`setMany\`, one
  insert per key in one transaction. \`raw postgres.js, the store's SQL\` sends the store's own
  get and set statements (as Drizzle writes them) to the same table: the difference between it and
  the floor is the store's SQL, the rest is its client. \`raw node-postgres\` sends the simplest
  SQL through a node-postgres pool (named prepared statements): the floor the targets hold the
  store over node-postgres to, as the first row is for postgres.js. Embedded floor: raw PGlite \`query\` with
  the simplest SQL, on a plain table in a PGlite of its own. Bulk removals: batched deletes of the
  same rows, from the same plain table.
- Read-modify-write: ${sizes.casIncrements} increments of one counter key by ${CAS_CALLERS} callers at once (the
  counter's first, which creates the row, before the run). The stores call \`update\`; the floors
  are pessimistic, one transaction per increment (insert the row if missing, \`select … for
  update\`, \`update\`), through raw postgres.js or raw PGlite; the stores' \`getWithRevision\` +
  \`setIf\` loop (again on \`CONFLICT\`) is beside them. Each run checks that every increment
  counted once. \`update · 1 caller, own key\`: one caller incrementing a key only it writes,
  against the store's \`set\` of such a key (a write that reads nothing) and the row-lock
  transaction.
- Watch: one writer sets a new key, timed until the listener receives its change, one change at a
  time. The stores \`set\` and \`watch\` the prefix; the floors write the plain table and
  \`pg_notify\` the write in the same transaction, and \`listen\` for it (raw postgres.js on a
  connection of its own, raw PGlite).
- The server is \`analyze\`d after each seeding, for every path alike. So is the raw PGlite; the
  embedded store is left to take its statistics itself (its own automatic \`analyze\`), as for an
  app, so its rows show what an app gets, stale statistics included.
- @keyv/postgres runs under Keyv, as apps use it (values serialized to JSON text); it has
  \`get\` and \`set\` rows only.
- Every pool has 10 connections (the store's default). c=32 is 32 callers at once. Values are
  random bytes. \`set\`, \`remove\` and \`setMany\` write keys no other run wrote (seeding and
  clearing are not measured).
- The \`keys\` page from the middle of the large prefix starts after its middle key; the small
  prefix is one page from its start. The Go pattern is the Go engine's way to read a
  prefix: \`list\`, then one \`get\` per key.
- The bench's database (\`workflow_store_bench\`, ICU en-US collation) is created and dropped by
  the run. Other work on the same machine or server shows as noise.`;

/** The report: what ran where, how to read it, and the tables. */
export function markdown(results: readonly Result[], context: Context): string {
  return [
    "# Benchmarks",
    "",
    `Written by \`npm run bench\` (bench/run.ts); run it again rather than editing this file.`,
    "",
    markdownTable(["Measured on", ""], facts(context)),
    "",
    METHOD(context.sizes),
    "",
    "## Results",
    "",
    tables(results),
    "",
  ].join("\n");
}
