import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What one measured run gives: its time, and for the memory workloads the memory. */
export interface Sample {
  ms: number;
  /** MiB of resident set size: the growth over the run, or the size after it, as the workload says. */
  rssMiB?: number;
  /** MiB of live memory (heap in use and external, after full collections) the run grew by. */
  liveMiB?: number;
  /** What else the run measured, for the report (a watcher's latency, say). */
  note?: string;
}

/** One path through a workload, timed here. */
export interface TimedContender {
  name: string;
  /** Untimed, before each run (e.g. rows for `remove` to delete). */
  setup?: (run: number) => Promise<unknown>;
  run: (run: number) => Promise<unknown>;
}

/** One path through a workload that measures itself (in a fresh process). */
export interface ProbeContender {
  name: string;
  probe: (run: number) => Promise<Sample>;
}

export type Contender = TimedContender | ProbeContender;

/** A workload, measured over each of its paths; the first path is the floor. */
export interface Workload {
  section: "main" | "processes" | "memory" | "start" | "cluster";
  name: string;
  /** `ops/s`: operations per second, higher is faster; `ms`: milliseconds per call, lower is faster. */
  unit: "ops/s" | "ms";
  /** Operations (ops/s) or calls (ms) in one run. */
  per: number;
  runs: number;
  /** One untimed run of each path first (prepared statements, connections, JIT). */
  warmup: boolean;
  contenders: Contender[];
}

/** A path's median over the runs of a workload, and its ratio to the floor (> 1: faster). */
export interface Row {
  path: string;
  value: number;
  ratio: number;
  /** The worst run's, for the memory workloads: they are bounds to stay under. */
  rssMiB?: number;
  liveMiB?: number;
  /** The notes of its runs, in order. */
  note?: string;
}

export interface Result {
  workload: Workload;
  rows: Row[];
}

/** The median; a run that measured nothing (NaN: a failover no write got through) counts as the slowest. */
export function median(values: readonly number[]): number {
  const sorted = values.map((value) => (Number.isNaN(value) ? Number.POSITIVE_INFINITY : value)).sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** A full collection, when run with --expose-gc, so that no run pays for the garbage of the one before. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function sample(contender: Contender, run: number): Promise<Sample> {
  if ("probe" in contender) return contender.probe(run);
  await contender.setup?.(run);
  collectGarbage();
  const start = performance.now();
  await contender.run(run);
  return { ms: performance.now() - start };
}

/**
 * Runs every path of the workload in turn, round after round (A, B, A, B…), so that whatever
 * else the machine does at some moment weighs on all of them alike, and reports medians.
 */
export async function measure(workload: Workload): Promise<Result> {
  const { contenders } = workload;
  if (workload.warmup) for (const contender of contenders) await sample(contender, -1);
  const samples: Sample[][] = contenders.map(() => []);
  for (let run = 0; run < workload.runs; run++) {
    for (const [index, contender] of contenders.entries()) samples[index]?.push(await sample(contender, run));
  }
  const worst = (values: (number | undefined)[]) => {
    const known = values.filter((value) => value !== undefined);
    return known.length === 0 ? undefined : Math.max(...known);
  };
  const figures = samples.map((runs) => {
    const ms = median(runs.map((s) => s.ms));
    return {
      value: workload.unit === "ops/s" ? workload.per / (ms / 1000) : ms / workload.per,
      rssMiB: worst(runs.map((s) => s.rssMiB)),
      liveMiB: worst(runs.map((s) => s.liveMiB)),
      ...(runs.some((s) => s.note) && { note: runs.map((s) => s.note ?? "–").join("; ") }),
    };
  });
  const floor = figures[0]?.value ?? Number.NaN;
  const rows = figures.map((figure, index) => ({
    path: contenders[index]?.name ?? "",
    ...figure,
    ratio: workload.unit === "ops/s" ? figure.value / floor : floor / figure.value,
  }));
  return { workload, rows };
}

/** Calls `op` for 0 … count-1, with at most `concurrency` calls in flight. */
export async function concurrently(count: number, concurrency: number, op: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

const FRESH_PROCESS = fileURLToPath(new URL("./fresh-process.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Runs a TypeScript file of the bench in a Node.js process of its own (`node --import tsx`, from
 * the repository, where tsx is found), and resolves with the last line it prints, a JSON object.
 */
export function runScript(
  script: string,
  args: readonly string[],
  options: { nodeFlags?: readonly string[]; env?: Record<string, string> } = {},
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...(options.nodeFlags ?? []), script, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...options.env },
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as Record<string, unknown>);
      else reject(new Error(`${script} ${args.join(" ")} exited with ${code}: ${stdout}`));
    });
  });
}

/**
 * Runs a probe of `fresh-process.ts` in a process of its own, so that what it measures of memory
 * and start-up owes nothing to what this process did before, and returns the sample it prints.
 */
export async function inFreshProcess(args: readonly string[], env: Record<string, string> = {}): Promise<Sample> {
  return (await runScript(FRESH_PROCESS, args, { nodeFlags: ["--expose-gc"], env })) as unknown as Sample;
}
