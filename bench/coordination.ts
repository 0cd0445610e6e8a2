/**
 * The workloads of workers coordinating through the store: many callers incrementing one counter
 * by compare-and-set, and a change's way from a write to a watcher.
 */
import { concurrently, type Workload } from "./measure.js";
import type { Family } from "./paths.js";
import { key } from "./seed.js";
import type { Sizes } from "./sizes.js";
import { over, runPrefix, slug } from "./workloads.js";

const COUNTERS = "/bench/cas";
const WATCHED = "/bench/watch";
const COUNTER_KEY = "counter";
/** Callers incrementing the one counter at once. */
export const CAS_CALLERS = 8;

/**
 * Throws unless the counts the increments wrote are first … first + n - 1, each once: an increment
 * lost (two writing the same count) would otherwise go unnoticed, and less work be measured.
 */
function checkCounts(counts: readonly number[], first: number, n: number, where: string): void {
  const sorted = [...counts].sort((a, b) => a - b);
  const wrong = sorted.findIndex((count, i) => count !== first + i);
  if (sorted.length !== n || wrong !== -1) {
    const found = wrong === -1 ? "" : `, count ${first + wrong} written as ${sorted[wrong]}`;
    throw new Error(`${where}: ${sorted.length} of ${n} increments${found}: increments were lost`);
  }
}

/**
 * n increments of one key by 8 callers at once, on a counter of the run's own. Its row is created
 * before (the first increment, untimed, alone): created by many at once, the floor's transactions
 * deadlock, each taking the prefix's lock (the triggers of migration 0004) before the row exists
 * to lock, then waiting for the row another took in the meantime.
 */
function casWorkload(family: Family, sizes: Sizes): Workload {
  const n = sizes.casIncrements;
  return over(
    family,
    "increment",
    {
      section: "main",
      name: `compare-and-set increment · 1 key, c=${CAS_CALLERS}`,
      unit: "ops/s",
      per: n,
      runs: sizes.runs,
      warmup: true,
    },
    (path) => ({
      setup: async (run) => {
        const prefix = runPrefix(COUNTERS, path, run);
        checkCounts([await path.increment(prefix, COUNTER_KEY)], 1, 1, `${path.name}, ${prefix}`);
      },
      run: async (run) => {
        const prefix = runPrefix(COUNTERS, path, run);
        const counts: number[] = [];
        await concurrently(n, CAS_CALLERS, async () => {
          counts.push(await path.increment(prefix, COUNTER_KEY));
        });
        checkCounts(counts, 2, n, `${path.name}, ${prefix}`);
      },
    }),
  );
}

/** k changes, each a set of a new key awaited until the path's listener has it, one at a time. */
function watchWorkload(family: Family, sizes: Sizes): Workload {
  const k = sizes.watchChanges;
  const value = Buffer.alloc(sizes.smallValue, 7);
  return over(
    family,
    "setAndSee",
    {
      section: "main",
      name: "watch · set to delivery, one change at a time",
      unit: "ms",
      per: k,
      runs: sizes.runs,
      warmup: true,
    },
    (path) => {
      // One prefix per path, so that its listener (opened in the warm-up run) stays; keys of each run's own.
      const prefix = `${WATCHED}/${slug(path)}`;
      return {
        run: async (run) => {
          const tag = run < 0 ? "warmup" : `run${run}`;
          for (let i = 0; i < k; i++) await path.setAndSee(prefix, `${tag}-${key(i)}`, value);
        },
      };
    },
  );
}

/** The coordination workloads of one family, in the order of the report. */
export function coordinationWorkloads(family: Family, sizes: Sizes): Workload[] {
  return [casWorkload(family, sizes), watchWorkload(family, sizes)];
}
