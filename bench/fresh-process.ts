/**
 * What the bench measures in a process of its own, so that memory and start-up owe nothing to what
 * ran before. Run by `inFreshProcess` as `node --import tsx --expose-gc bench/fresh-process.ts
 * <probe> <path>`, with BENCH_URL (the bench's database, empty for none), BENCH_PREFIX,
 * BENCH_ROWS and BENCH_VALUE in the environment; prints one line of JSON, a `Sample`.
 *
 * - `entries <path>`: the growth of the resident set size while the path walks every row of
 *   BENCH_PREFIX, BENCH_ROWS rows (the parent seeded it on the server; PGlite paths seed their own),
 *   then the growth of live memory (after full collections) over a second walk.
 * - `start <path>`: the time from nothing to the first answer, and the resident set size then.
 */
import { collectGarbage, type Sample } from "./measure.js";
import type { Opened } from "./paths.js";

const MiB = 1024 * 1024;
const [probe, pathId] = process.argv.slice(2);
const prefix = process.env.BENCH_PREFIX ?? "";
const rows = Number(process.env.BENCH_ROWS);
const valueBytes = Number(process.env.BENCH_VALUE);

/** Opens only the path measured, and only what it needs. */
async function open(id: string): Promise<Opened & { seeded: boolean }> {
  // Imported here: the start probe measures loading PGlite, which the paths import.
  const paths = await import("./paths.js");
  if (id === "raw-pglite") return { ...(await paths.openRawPglite()), seeded: false };
  if (id === "embedded-store") return { ...(await paths.openEmbeddedStore()), seeded: false };
  const names: Record<string, string> = {
    "raw-postgres-js": "raw postgres.js",
    "store-postgres-js": "store · postgres.js",
    "store-node-postgres": "store · node-postgres",
  };
  const server = await paths.openServer(process.env.BENCH_URL ?? "");
  const path = server.paths.find((candidate) => candidate.name === names[id]);
  if (path === undefined) throw new Error(`unknown path ${id}`);
  // The parent seeded the server.
  return { path, close: server.close, seeded: true };
}

/** The JavaScript heap in use and the memory outside it (Buffers, PGlite's WebAssembly memory). */
function live(): number {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

async function entries(id: string): Promise<Sample> {
  const { path, close, seeded } = await open(id);
  try {
    if (path.walkEntries === undefined || path.get === undefined) throw new Error(`${path.name} cannot walk`);
    if (!seeded) await path.home.seed(prefix, rows, valueBytes);
    // Connections open and statements ready before the baselines.
    await path.get(prefix, "warm-up");
    collectGarbage();
    // First walk, timed: the resident set size, garbage not yet collected included.
    const rssBefore = process.memoryUsage.rss();
    let rssPeak = rssBefore;
    let seen = 0;
    const start = performance.now();
    await path.walkEntries(prefix, () => {
      if (++seen % 500 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    });
    const ms = performance.now() - start;
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    if (seen !== rows) throw new Error(`${path.name} walked ${seen} rows of ${rows}`);
    // Second walk, with a full collection now and then: what the walk really holds.
    collectGarbage();
    const liveBefore = live();
    let livePeak = liveBefore;
    const every = Math.max(1, Math.floor(rows / 20));
    seen = 0;
    await path.walkEntries(prefix, () => {
      if (++seen % every === 0) {
        collectGarbage();
        livePeak = Math.max(livePeak, live());
      }
    });
    return { ms, rssMiB: (rssPeak - rssBefore) / MiB, liveMiB: (livePeak - liveBefore) / MiB };
  } finally {
    await close();
  }
}

async function start(id: string): Promise<Sample> {
  // An app has imported the package before it calls it; the package imports PGlite on the call.
  const { createEmbeddedStore } = await import("../src/index.js");
  const begin = performance.now();
  if (id === "raw-pglite") {
    const { PGlite } = await import("@electric-sql/pglite");
    const client = await PGlite.create();
    await client.query("select 1");
    const ms = performance.now() - begin;
    const rssMiB = process.memoryUsage.rss() / MiB;
    await client.close();
    return { ms, rssMiB };
  }
  if (id !== "embedded-store") throw new Error(`unknown path ${id}`);
  const store = await createEmbeddedStore();
  await store.get("/bench", "k");
  const ms = performance.now() - begin;
  const rssMiB = process.memoryUsage.rss() / MiB;
  await store.close();
  return { ms, rssMiB };
}

if (probe !== "entries" && probe !== "start") throw new Error(`usage: fresh-process.ts entries|start <path>`);
const sample = probe === "entries" ? await entries(pathId ?? "") : await start(pathId ?? "");
process.stdout.write(`${JSON.stringify(sample)}\n`);
