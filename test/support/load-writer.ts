/**
 * Upserts under load, for test/load.test.ts: in the test's own process ({@link writeLoad}) and as a
 * child process, run as
 * `node <childScript("load-writer")> <url> <prefix> <workerId> <callers> <writes> [workers]`.
 *
 * The child opens a store of its own on `url`, waits until `workers` children (default 1) have
 * opened theirs, so that their writes overlap, runs {@link writeLoad} and prints its {@link LoadLog}
 * as one JSON line on stdout. If it cannot open the store it throws, and exits non-zero.
 */
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createPostgresStore, type Store, StoreError } from "../../src/index.js";

/** How many keys every caller of every worker writes to. */
export const SHARED_KEYS = 50;
/** After this many shared writes, a caller writes a key of its own once. */
export const UNIQUE_EVERY = 100;
/** The error messages a log keeps; it counts them all. */
const KEPT_ERRORS = 10;

/** What one {@link writeLoad} did. */
export interface LoadLog {
  /** For each key, the values whose `set` resolved, in the order they resolved. */
  resolved: Record<string, string[]>;
  /** How many `set` calls rejected. */
  errorCount: number;
  /** The first of their messages. */
  errors: string[];
}

/** The value of a write, naming who wrote it and when in its sequence, so that a read names its write. */
function loadValue(worker: number, caller: number, seq: number): string {
  return `w${worker}.c${caller}.s${seq}`;
}

/** The caller (`w<worker>.c<caller>`) that wrote a value {@link writeLoad} made. */
export function writerOf(value: string): string {
  return value.slice(0, value.lastIndexOf("."));
}

/**
 * Runs `callers` callers at once on one store, each awaiting its writes one by one: `writes`
 * upserts spread over {@link SHARED_KEYS} keys that every caller (of every worker) writes, and after
 * every {@link UNIQUE_EVERY}th one, a write of a key no one else writes (`w<worker>-caller-<c>-<n>`).
 * Every value is distinct. A rejected write is counted, not thrown, and the caller goes on.
 */
export async function writeLoad(
  store: Store,
  prefix: string,
  worker: number,
  callers: number,
  writes: number,
): Promise<LoadLog> {
  const log: LoadLog = { resolved: {}, errorCount: 0, errors: [] };
  const write = async (key: string, value: string) => {
    try {
      await store.set(prefix, key, Buffer.from(value));
      log.resolved[key] ??= [];
      log.resolved[key].push(value);
    } catch (error) {
      log.errorCount++;
      const code = error instanceof StoreError ? ` ${error.code}` : "";
      if (log.errors.length < KEPT_ERRORS) log.errors.push(`${key} <- ${value}:${code} ${String(error)}`);
    }
  };
  const caller = async (c: number) => {
    let seq = 0;
    for (let i = 0; i < writes; i++) {
      // 7 is prime to SHARED_KEYS, so each caller goes round all the keys, from its own offset.
      const key = `shared-${(i * 7 + c * 13 + worker * 29) % SHARED_KEYS}`;
      await write(key, loadValue(worker, c, seq++));
      if ((i + 1) % UNIQUE_EVERY === 0) {
        await write(`w${worker}-caller-${c}-${(i + 1) / UNIQUE_EVERY}`, loadValue(worker, c, seq++));
      }
    }
  };
  await Promise.all(Array.from({ length: callers }, (_, c) => caller(c)));
  return log;
}

/** Marks this worker ready under `<prefix>/ready` and waits until `workers` are. */
async function barrier(store: Store, prefix: string, worker: number, workers: number): Promise<void> {
  const ready = `${prefix}/ready`;
  await store.set(ready, String(worker), Buffer.alloc(0));
  const deadline = Date.now() + 60_000;
  while ((await store.count(ready)) < workers) {
    if (Date.now() > deadline) throw new Error(`worker ${worker}: the other workers never became ready`);
    await sleep(10);
  }
}

async function main(args: string[]): Promise<void> {
  const [url, prefix, worker, callers, writes, workers = "1"] = args;
  if (url === undefined || prefix === undefined || writes === undefined) {
    throw new Error("usage: load-writer.ts <url> <prefix> <workerId> <callers> <writes> [workers]");
  }
  const store = await createPostgresStore(url);
  try {
    await barrier(store, prefix, Number(worker), Number(workers));
    const log = await writeLoad(store, prefix, Number(worker), Number(callers), Number(writes));
    process.stdout.write(`${JSON.stringify(log)}\n`);
  } finally {
    await store.close();
  }
}

// Imported by the test, this module only exports; run by node, it is the child.
const script = process.argv[1];
if (script !== undefined && resolve(script) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
