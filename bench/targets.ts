/**
 * The store's targets against the outside floors, read off a run's results: each one's figure and
 * whether it was met. A figure is a ratio of two rows of one workload (ops/s: the path's over the
 * other's; ms: the other's over the path's), or a memory growth against its bound.
 */
import { CAS_CALLERS } from "./coordination.js";
import type { Result, Row } from "./measure.js";

/** The RSS growth a walk of `entries` must stay under, whatever the prefix holds. */
export const RSS_BOUND_MIB = 64;

interface Target {
  /** What is promised, as the report says it. */
  goal: string;
  /** The workload's name, family included. */
  workload: string;
  path: string;
  /** The row it is compared with; absent for a memory bound. */
  against?: string;
  /** The least ratio that meets it; for a memory bound, the most MiB. */
  bound: number;
}

const PG = "PostgreSQL";
const STORES = ["store · postgres.js", "store · node-postgres"];

function ratioTargets(goal: string, workload: string, paths: string[], against: string, bound: number): Target[] {
  return paths.map((path) => ({ goal, workload, path, against, bound }));
}

/** Each store on the server against the raw floor of its own driver. */
function floorTargets(goal: string, workload: string, bound: number): Target[] {
  return [
    { goal, workload, path: "store · postgres.js", against: "raw postgres.js", bound },
    { goal, workload, path: "store · node-postgres", against: "raw node-postgres", bound },
  ];
}

const TARGETS: Target[] = [
  ...floorTargets("get, one caller: ≥ 0.95× the floor", `get · c=1 · ${PG}`, 0.95),
  ...floorTargets("set, one caller: ≥ 0.9× the floor", `set · c=1 · ${PG}`, 0.9),
  ...ratioTargets("get, one caller: ≥ 1.0× @keyv/postgres", `get · c=1 · ${PG}`, STORES, "@keyv/postgres", 1),
  ...ratioTargets("set, one caller: ≥ 1.0× @keyv/postgres", `set · c=1 · ${PG}`, STORES, "@keyv/postgres", 1),
  ...floorTargets("get, 32 callers: ≥ 1.5× the floor", `get · c=32 · ${PG}`, 1.5),
  ...floorTargets("set, 32 callers: ≥ 2.0× the floor", `set · c=32 · ${PG}`, 2),
  ...ratioTargets("embedded get: ≥ 0.9× raw PGlite", "get · c=1 · embedded", ["embedded store"], "raw PGlite", 0.9),
  ...ratioTargets("embedded set: ≥ 0.9× raw PGlite", "set · c=1 · embedded", ["embedded store"], "raw PGlite", 0.9),
  ...floorTargets("keys over 100k: ≥ 0.7× one query", `keys · 100k keys · ${PG}`, 0.7),
  ...ratioTargets(
    "keys over 100k: ≥ 0.7× one query",
    "keys · 100k keys · embedded",
    ["embedded store"],
    "raw PGlite",
    0.7,
  ),
  ...ratioTargets(
    `update, ${CAS_CALLERS} callers on one key: ≥ 1.0× the row-lock floor`,
    `read-modify-write increment · 1 key, c=${CAS_CALLERS} · ${PG}`,
    STORES,
    "raw postgres.js",
    1,
  ),
  ...ratioTargets(
    `update, ${CAS_CALLERS} callers on one key: ≥ 1.0× the row-lock floor`,
    `read-modify-write increment · 1 key, c=${CAS_CALLERS} · embedded`,
    ["embedded store"],
    "raw PGlite",
    1,
  ),
  ...ratioTargets(
    "update, one caller: ≥ 0.9× one set",
    `update · 1 caller, own key · ${PG}`,
    STORES.map((store) => `${store}: update`),
    "store · postgres.js: set",
    0.9,
  ),
  ...ratioTargets(
    "update, one caller: ≥ 0.9× one set",
    "update · 1 caller, own key · embedded",
    ["embedded store: update"],
    "embedded store: set",
    0.9,
  ),
  ...[...STORES.map((path) => [path, PG]), ["embedded store", "embedded"]].map(
    ([path, family]): Target => ({
      goal: `entries of 200k × 256 B: RSS growth < ${RSS_BOUND_MIB} MiB`,
      workload: `entries · 200k keys × 256 B · ${family}`,
      path: path as string,
      bound: RSS_BOUND_MIB,
    }),
  ),
];

function rowOf(results: readonly Result[], workload: string, path: string): { row: Row; unit: string } | undefined {
  const result = results.find((each) => each.workload.name === workload);
  const row = result?.rows.find((each) => each.path === path);
  return result === undefined || row === undefined ? undefined : { row, unit: result.workload.unit };
}

/** One line per target the run measured: the goal, the path, its figure, and whether it was met. */
export function targetRows(results: readonly Result[]): string[][] {
  return TARGETS.flatMap((target) => {
    const found = rowOf(results, target.workload, target.path);
    if (found === undefined) return [];
    if (target.against === undefined) {
      const growth = found.row.rssMiB ?? Number.NaN;
      return [[target.goal, target.path, `${growth.toFixed(1)} MiB`, growth < target.bound ? "yes" : "no"]];
    }
    const other = rowOf(results, target.workload, target.against);
    if (other === undefined) return [];
    const ratio = found.unit === "ops/s" ? found.row.value / other.row.value : other.row.value / found.row.value;
    const met = ratio >= target.bound ? "yes" : `no (${((1 - ratio / target.bound) * 100).toFixed(1)}% short)`;
    return [[target.goal, target.path, `${ratio.toFixed(2)}×`, met]];
  });
}
