import { concurrently, inFreshProcess, type TimedContender, type Workload } from "./measure.js";
import type { Family, Path } from "./paths.js";
import { entries, key } from "./seed.js";
import type { Sizes } from "./sizes.js";

const POINT = "/bench/point";
const WALK = "/bench/walk";
const MANY = "/bench/many";
/** The prefix the memory probes walk; on the server, `run.ts` seeds it. */
export const MEMORY_PREFIX = `${WALK}/memory`;

/** A path's name as a prefix segment, so that each path writes keys of its own. */
export function slug(path: Path): string {
  return path.name.replace(/[^a-z0-9]+/gi, "-");
}

function size(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function count(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

/** The run's own prefix for writes: the warm-up run is -1. */
export function runPrefix(base: string, path: Path, run: number): string {
  return `${base}/${slug(path)}/${run < 0 ? "warmup" : run}`;
}

/**
 * A workload over the family's paths that can do `op` (the floor always can). `contender` gives
 * each path's setup and run.
 */
export function over(
  family: Family,
  op: keyof Path,
  workload: Omit<Workload, "contenders">,
  contender: (path: Required<Path>) => Omit<TimedContender, "name">,
): Workload {
  // Each workload uses only its own operation, which the filter makes sure of.
  const paths = family.paths.filter((path) => path[op] !== undefined) as Required<Path>[];
  return {
    ...workload,
    name: `${workload.name} · ${family.name}`,
    contenders: paths.map((path) => ({ name: path.name, ...contender(path) })),
  };
}

/** get, set and remove of single keys, one caller at a time and 32 at once. */
function pointWorkloads(family: Family, sizes: Sizes): Workload[] {
  const value = Buffer.alloc(sizes.smallValue, 7);
  // Spread over the prefix, the same keys in every run.
  const pointKey = (i: number) => key((i * 7919) % sizes.pointKeys);
  return ([1, 32] as const).flatMap((c) => {
    const n = sizes.pointOps[c];
    const shape = { section: "main", unit: "ops/s", per: n, runs: sizes.runs, warmup: true } as const;
    return [
      over(family, "get", { ...shape, name: `get · c=${c}` }, (path) => ({
        setup: () => path.home.seed(POINT, sizes.pointKeys, sizes.smallValue),
        run: () => concurrently(n, c, (i) => path.get(POINT, pointKey(i))),
      })),
      over(family, "set", { ...shape, name: `set · c=${c}` }, (path) => ({
        run: (run) => {
          const prefix = runPrefix(`/bench/set/c${c}`, path, run);
          return concurrently(n, c, (i) => path.set(prefix, key(i), value));
        },
      })),
      over(family, "remove", { ...shape, name: `remove · c=${c}` }, (path) => ({
        setup: (run) => path.home.seed(runPrefix(`/bench/remove/c${c}`, path, run), n, sizes.smallValue),
        run: (run) => {
          const prefix = runPrefix(`/bench/remove/c${c}`, path, run);
          return concurrently(n, c, (i) => path.remove(prefix, key(i)));
        },
      })),
    ];
  });
}

/** `keys` and `entries` over a whole prefix, against one query returning it all. */
function walkWorkloads(family: Family, sizes: Sizes): Workload[] {
  return [sizes.walkSmall, sizes.walkLarge].flatMap((keys) => {
    const prefix = `${WALK}/${keys}`;
    const large = keys === sizes.walkLarge;
    const shape = {
      section: "main",
      unit: "ms",
      per: 1,
      runs: large ? sizes.slowRuns : sizes.runs,
      warmup: !large,
    } as const;
    const walkKeys = (path: Pick<Required<Path>, "home" | "walkKeys">) => ({
      setup: () => path.home.seed(prefix, keys, sizes.smallValue),
      run: () => path.walkKeys(prefix, () => {}),
    });
    const walkEntries = (path: Pick<Required<Path>, "home" | "walkEntries">) => ({
      setup: () => path.home.seed(prefix, keys, sizes.smallValue),
      run: () => path.walkEntries(prefix, () => {}),
    });
    const entriesWorkload = over(
      family,
      "walkEntries",
      { ...shape, name: `entries · ${count(keys)} keys` },
      walkEntries,
    );
    // The Go engine's pattern reads the small prefix only: one round trip per key.
    if (!large) entriesWorkload.contenders.push({ name: family.goPattern.name, ...walkEntries(family.goPattern) });
    return [over(family, "walkKeys", { ...shape, name: `keys · ${count(keys)} keys` }, walkKeys), entriesWorkload];
  });
}

/** One `keys` page from the middle of the large prefix, and the whole small prefix as one page. */
function pageWorkloads(family: Family, sizes: Sizes): Workload[] {
  const shape = { section: "main", unit: "ms", per: sizes.pagesPerRun, runs: sizes.runs, warmup: true } as const;
  const pages = (prefix: string, keys: number, after: string | undefined) => (path: Required<Path>) => ({
    setup: () => path.home.seed(prefix, keys, sizes.smallValue),
    run: async () => {
      for (let i = 0; i < sizes.pagesPerRun; i++) await path.keysPage(prefix, after, sizes.pageLimit);
    },
  });
  const large = `${WALK}/${sizes.walkLarge}`;
  const small = `${WALK}/${sizes.pagePrefix}`;
  const limit = `limit ${sizes.pageLimit}`;
  return [
    over(
      family,
      "keysPage",
      { ...shape, name: `keys page (${limit}) · middle of ${count(sizes.walkLarge)}-key prefix` },
      pages(large, sizes.walkLarge, key(sizes.walkLarge / 2)),
    ),
    over(
      family,
      "keysPage",
      { ...shape, name: `keys page (${limit}) · ${count(sizes.pagePrefix)}-key prefix` },
      pages(small, sizes.pagePrefix, undefined),
    ),
  ];
}

/** getMany and setMany of a batch of keys, small and large values. */
function batchWorkloads(family: Family, sizes: Sizes): Workload[] {
  return [sizes.smallValue, sizes.largeValue].flatMap((bytes) => {
    const large = bytes === sizes.largeValue;
    // Small batches take a few milliseconds: several calls a run, so that a run is not one tick.
    const calls = large ? 1 : 10;
    const shape = {
      section: "main",
      unit: "ms",
      per: calls,
      runs: large ? sizes.slowRuns : sizes.runs,
      warmup: !large,
    } as const;
    const prefix = `${MANY}/${bytes}`;
    const keys = Array.from({ length: sizes.batch }, (_, i) => key(i));
    const batch = entries(sizes.batch, bytes);
    const label = `${count(sizes.batch)} keys × ${size(bytes)}`;
    return [
      over(family, "getMany", { ...shape, name: `getMany · ${label}` }, (path) => ({
        setup: () => path.home.seed(prefix, sizes.batch, bytes),
        run: async () => {
          for (let call = 0; call < calls; call++) await path.getMany(prefix, keys);
        },
      })),
      over(family, "setMany", { ...shape, name: `setMany · ${label}` }, (path) => {
        // Each call inserts the batch anew, into a prefix emptied before the run (not measured).
        const targets = Array.from({ length: calls }, (_, call) => `${MANY}/set/${bytes}/${slug(path)}/${call}`);
        return {
          setup: () => Promise.all(targets.map((target) => path.home.clear(target))),
          run: async () => {
            for (const target of targets) await path.setMany(target, batch);
          },
        };
      }),
    ];
  });
}

/** Every workload of one family, in the order of the report. */
export function familyWorkloads(family: Family, sizes: Sizes): Workload[] {
  return [
    ...pointWorkloads(family, sizes),
    ...walkWorkloads(family, sizes),
    ...pageWorkloads(family, sizes),
    ...batchWorkloads(family, sizes),
  ];
}

/** A workload whose every run is a probe of `fresh-process.ts`, in a process of its own. */
function freshWorkload(
  shape: Omit<Workload, "contenders" | "unit" | "per" | "warmup">,
  probe: string,
  paths: Record<string, string>,
  env: Record<string, string>,
): Workload {
  return {
    ...shape,
    unit: "ms",
    per: 1,
    warmup: false,
    contenders: Object.entries(paths).map(([name, id]) => ({ name, probe: () => inFreshProcess([probe, id], env) })),
  };
}

/**
 * The resident set size's growth while `entries` walks a large prefix (each in a fresh process),
 * against one query holding every row; and the embedded store's start.
 */
export function processWorkloads(sizes: Sizes, serverUrl: string | undefined): Workload[] {
  const rows = sizes.memoryRows;
  const env = {
    BENCH_PREFIX: MEMORY_PREFIX,
    BENCH_ROWS: String(rows),
    BENCH_VALUE: String(sizes.smallValue),
    BENCH_URL: serverUrl ?? "",
  };
  const memory = { section: "memory", runs: sizes.slowRuns } as const;
  const name = `entries · ${count(rows)} keys × ${size(sizes.smallValue)}`;
  return [
    ...(serverUrl === undefined
      ? []
      : [
          freshWorkload(
            { ...memory, name: `${name} · PostgreSQL` },
            "entries",
            {
              "raw postgres.js (one query)": "raw-postgres-js",
              "store · postgres.js": "store-postgres-js",
              "store · node-postgres": "store-node-postgres",
            },
            env,
          ),
        ]),
    freshWorkload(
      { ...memory, name: `${name} · embedded` },
      "entries",
      { "raw PGlite (one query)": "raw-pglite", "embedded store": "embedded-store" },
      env,
    ),
    freshWorkload(
      { section: "start", runs: sizes.slowRuns, name: "start to first answer · embedded" },
      "start",
      { "raw PGlite: create, select 1": "raw-pglite", "embedded store: create, get": "embedded-store" },
      env,
    ),
  ];
}
