/**
 * The benchmark: `npm run bench [-- --tiny] [-- --out FILE]`. Against DATABASE_URL's server (in a
 * database of its own, created and dropped) when it is set, and the embedded store always; prints
 * the tables and writes BENCHMARKS.md (or FILE). `--tiny` (or BENCH_SIZE=tiny) shrinks every
 * size, for CI. Run with --expose-gc (as the script does), so that each measured run starts on a
 * collected heap.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { failoverWorkloads, replicaWorkloads } from "./cluster.js";
import { coordinationWorkloads } from "./coordination.js";
import { type BenchDatabase, createBenchDatabase } from "./database.js";
import { measure, type Result, type Workload } from "./measure.js";
import { type Family, openEmbedded, openServer } from "./paths.js";
import { bulkRemovalWorkloads, processWriteWorkloads } from "./processes.js";
import { markdown, tables } from "./report.js";
import { FULL, TINY } from "./sizes.js";
import { familyWorkloads, MEMORY_PREFIX, processWorkloads } from "./workloads.js";

const { values: args } = parseArgs({
  options: { tiny: { type: "boolean", default: false }, out: { type: "string" } },
});
const sizes = args.tiny || process.env.BENCH_SIZE === "tiny" ? TINY : FULL;
// Relative to where `npm run` was typed, not the repository it runs in.
const out =
  args.out === undefined
    ? fileURLToPath(new URL("../BENCHMARKS.md", import.meta.url))
    : path.resolve(process.env.INIT_CWD ?? process.cwd(), args.out);

const began = performance.now();
const loadBefore = os.loadavg()[0] ?? 0;
const date = new Date();
const log = (line: string) => process.stderr.write(`${line}\n`);
const adminUrl = process.env.DATABASE_URL || undefined;
if (adminUrl === undefined) log("DATABASE_URL is unset: the embedded store only");

const results: Result[] = [];
let database: BenchDatabase | undefined;
const families: Family[] = [];
let bulk: ReturnType<typeof bulkRemovalWorkloads> | undefined;
try {
  database = adminUrl === undefined ? undefined : await createBenchDatabase(adminUrl);
  const server = database === undefined ? undefined : await openServer(database.url);
  if (server !== undefined) families.push(server);
  families.push(await openEmbedded());
  const workloads = families.flatMap((family) => [
    ...familyWorkloads(family, sizes),
    ...coordinationWorkloads(family, sizes),
  ]);
  const inProcesses = processWorkloads(sizes, database?.url);
  // Writers in processes of their own and bulk removals, beside a plain table (server only).
  if (database !== undefined) {
    bulk = bulkRemovalWorkloads(database.url, sizes);
    workloads.push(...bulk.workloads);
    inProcesses.push(...processWriteWorkloads(database.url, sizes));
  }
  const total = workloads.length + inProcesses.length;
  const run = async (workload: Workload) => {
    const start = performance.now();
    log(`[${results.length + 1}/${total}] ${workload.name}`);
    results.push(await measure(workload));
    log(`  ${((performance.now() - start) / 1000).toFixed(1)} s`);
  };
  for (const workload of workloads) await run(workload);
  await bulk?.close();
  bulk = undefined;
  // The server's rows for the memory probes; the families close first, so as not to weigh on them.
  // The plain table and the store's table (the homes of the paths that walk), each with the rows.
  const walked = new Set(server?.paths.filter((path) => path.walkEntries !== undefined).map((path) => path.home));
  for (const home of walked) await home.seed(MEMORY_PREFIX, sizes.memoryRows, sizes.smallValue);
  for (const family of families.splice(0)) await family.close();
  for (const workload of inProcesses) await run(workload);
  // Servers of their own: a primary with a standby, and a pg_auto_failover formation.
  for (const cluster of [replicaWorkloads(sizes), failoverWorkloads(sizes)]) {
    try {
      for (const workload of cluster.workloads) await run(workload);
    } finally {
      await cluster.close();
    }
  }
} finally {
  await bulk?.close();
  for (const family of families) await family.close();
  await database?.drop();
}

const report = markdown(results, {
  sizes,
  date,
  seconds: (performance.now() - began) / 1000,
  serverVersion: database?.serverVersion,
  load: [loadBefore, os.loadavg()[0] ?? 0],
});
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, report);
process.stdout.write(`${tables(results)}\n\nwrote ${out}\n`);
