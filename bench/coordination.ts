/**
 * The workloads of workers coordinating through the store: callers incrementing a counter by
 * read-modify-write, and a change's way from a write to a watcher.
 */
import { concurrently, type Workload } from "./measure.js";
import type { Family, Path } from "./paths.js";
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

/** n increments of one counter by `callers` at once, with the counts checked; `setup` creates the row. */
function incrementing(
  name: string,
  increment: (prefix: string, key: string) => Promise<number>,
  prefixOf: (run: number) => string,
  n: number,
  callers: number,
) {
  return {
    name,
    setup: async (run: number) => {
      const prefix = prefixOf(run);
      checkCounts([await increment(prefix, COUNTER_KEY)], 1, 1, `${name}, ${prefix}`);
    },
    run: async (run: number) => {
      const prefix = prefixOf(run);
      const counts: number[] = [];
      await concurrently(n, callers, async () => {
        counts.push(await increment(prefix, COUNTER_KEY));
      });
      checkCounts(counts, 2, n, `${name}, ${prefix}`);
    },
  };
}

/**
 * n increments of one key by 8 callers at once, on a counter of the run's own: the stores'
 * `update`, beside the floor's row lock, and the stores' compare-and-set loop. Its row is created
 * before (the first increment, untimed, alone), so that the floor's inserts do not race.
 */
function hotKeyWorkload(family: Family, sizes: Sizes): Workload {
  const n = sizes.casIncrements;
  const workload = over(
    family,
    "increment",
    {
      section: "main",
      name: `read-modify-write increment · 1 key, c=${CAS_CALLERS}`,
      unit: "ops/s",
      per: n,
      runs: sizes.runs,
      warmup: true,
    },
    (path) => incrementing(path.name, path.increment, (run) => runPrefix(COUNTERS, path, run), n, CAS_CALLERS),
  );
  for (const path of family.paths) {
    const casIncrement = path.casIncrement;
    if (casIncrement === undefined) continue;
    const name = `${path.name}: getWithRevision + setIf loop`;
    workload.contenders.push(
      incrementing(name, casIncrement, (run) => runPrefix(`${COUNTERS}/cas`, path, run), n, CAS_CALLERS),
    );
  }
  return workload;
}

/**
 * One caller updating a key only it writes, against the same calls of `set` (its floor: a write
 * that reads nothing), and the raw row-lock transaction.
 */
function ownKeyWorkload(family: Family, sizes: Sizes): Workload {
  const n = sizes.pointOps[1];
  const value = Buffer.alloc(8, 7);
  const stores = family.paths.filter((path) => path.casIncrement !== undefined);
  const [first] = stores;
  if (first?.set === undefined) throw new Error(`no store path in ${family.name}`);
  const set = first.set;
  const prefixOf = (path: Path, run: number) => runPrefix(`${COUNTERS}/own`, path, run);
  const floor = family.paths[0];
  return {
    section: "main",
    name: `update · 1 caller, own key · ${family.name}`,
    unit: "ops/s",
    per: n,
    runs: sizes.runs,
    warmup: true,
    contenders: [
      {
        name: `${first.name}: set`,
        run: (run) => concurrently(n, 1, () => set(`${prefixOf(first, run)}/set`, COUNTER_KEY, value)),
      },
      ...[...stores, ...(floor?.increment === undefined ? [] : [floor])].map((path) =>
        incrementing(
          path === floor ? `${path.name}: row-lock transaction` : `${path.name}: update`,
          path.increment as (prefix: string, key: string) => Promise<number>,
          (run) => prefixOf(path, run),
          n,
          1,
        ),
      ),
    ],
  };
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
  return [hotKeyWorkload(family, sizes), ownKeyWorkload(family, sizes), watchWorkload(family, sizes)];
}
