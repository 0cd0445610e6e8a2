/** How much work each workload does, and how many times it is measured. */
export interface Sizes {
  name: "full" | "tiny";
  /** Measured runs of each path for quick workloads; the median is reported. */
  runs: number;
  /** Measured runs for the slow ones (walks of the large prefix, fresh processes). */
  slowRuns: number;
  /** Bytes of a small value. */
  smallValue: number;
  /** Bytes of a large value (getMany/setMany). */
  largeValue: number;
  /** Keys of the prefix `get` and `getMany` read. */
  pointKeys: number;
  /** Calls per run of get, set and remove, by concurrency. */
  pointOps: { 1: number; 32: number };
  /** Keys per getMany/setMany call. */
  batch: number;
  /** Keys of the small and large prefixes `keys` and `entries` walk. */
  walkSmall: number;
  walkLarge: number;
  /** Keys of the small prefix a `keys` page is read from (the whole of it is one page). */
  pagePrefix: number;
  /** Keys per page, and pages read per run. */
  pageLimit: number;
  pagesPerRun: number;
  /** Rows `entries` walks while the resident set size is watched. */
  memoryRows: number;
  /** Increments of the one counter key per run of the compare-and-set workload, by all its callers together. */
  casIncrements: number;
  /** Changes per run of the watch workload, each set and awaited before the next. */
  watchChanges: number;
  /** Milliseconds the writer processes of the multi-process workloads write for, each run. */
  processMs: number;
  /** Rows purge, removePrefix and removeMany remove per run. */
  bulkRows: number;
}

/** The sizes BENCHMARKS.md reports; about 25 minutes on two cores. */
export const FULL: Sizes = {
  name: "full",
  runs: 5,
  slowRuns: 3,
  smallValue: 256,
  largeValue: 64 * 1024,
  pointKeys: 5000,
  pointOps: { 1: 3000, 32: 10_000 },
  batch: 1000,
  walkSmall: 10_000,
  walkLarge: 100_000,
  pagePrefix: 1000,
  pageLimit: 1000,
  pagesPerRun: 50,
  memoryRows: 200_000,
  casIncrements: 400,
  watchChanges: 200,
  processMs: 5000,
  bulkRows: 200_000,
};

/** Everything small, so that CI runs the whole bench in seconds and it cannot rot. */
export const TINY: Sizes = {
  name: "tiny",
  runs: 1,
  slowRuns: 1,
  smallValue: 256,
  largeValue: 64 * 1024,
  pointKeys: 200,
  pointOps: { 1: 50, 32: 200 },
  batch: 20,
  walkSmall: 500,
  walkLarge: 2000,
  pagePrefix: 100,
  pageLimit: 100,
  pagesPerRun: 5,
  memoryRows: 2000,
  casIncrements: 40,
  watchChanges: 20,
  processMs: 250,
  bulkRows: 2000,
};
