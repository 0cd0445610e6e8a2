/**
 * Past one machine: failover through a pg_auto_failover formation, and `entries` of a large
 * prefix on a streaming standby while writer processes load the primary. Both run servers of
 * their own (test/support): the formation and the primary/standby pair.
 */
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";
import { connectNodePostgres, createPostgresStore, createStoreWithDb, type Store } from "../src/index.js";
import {
  autoFailoverUnavailable,
  type FailoverReport,
  type Formation,
  startFormation,
} from "../test/support/auto-failover.js";
import { outageOf, startWriters, type WriteReport } from "../test/support/failover-load.js";
import { replicationUnavailable, startReplicatedPair } from "../test/support/replication.js";
import type { ProbeContender, Sample, Workload } from "./measure.js";
import { runScript } from "./measure.js";
import { PROCESSES } from "./processes.js";
import { entries } from "./seed.js";
import type { Sizes } from "./sizes.js";

const WRITERS = 16;
const PLAIN_FAILOVER = "create table if not exists failover_plain (id text primary key)";

/**
 * A path through a failover: what writes with it, how many of the keys the primary has (asked on
 * a connection of the bench's own, which finds the primary, so that a path cannot hide a loss),
 * and what closes it.
 */
interface Writer {
  write(key: string): Promise<unknown>;
  stored(keys: string[], primary: postgres.Sql): Promise<number>;
  close(): Promise<void>;
}

async function rawPostgresJs(url: string): Promise<Writer> {
  const client = postgres(url, { max: 10, onnotice: () => {} });
  return {
    write: (key) => client`insert into failover_plain (id) values (${key})`,
    stored: async (keys, primary) => {
      const [row] = await primary`select count(*)::int as n from failover_plain where id = any(${keys})`;
      return row?.n ?? 0;
    },
    close: () => client.end({ timeout: 1 }),
  };
}

function storeWriter(store: Store, prefix: string, close: () => Promise<void>): Writer {
  return {
    write: (key) => store.set(prefix, key, Buffer.from(key)),
    stored: async (keys, primary) => {
      const [row] =
        await primary`select count(*)::int as n from workflow_store where prefix = ${prefix} and key = any(${keys})`;
      return row?.n ?? 0;
    },
    close,
  };
}

/** `ask()` again while it fails, for up to 10 s: the bench's connection may have been the old primary's. */
async function untilAnswered<T>(ask: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

/** The sample of one failover: writes again after (ms), and the calls' count in the note. */
function failoverSample(written: WriteReport, stored: number, report: FailoverReport): Sample {
  const { resumedAfterMs, lastFailureAfterMs } = outageOf(written, report.startedAt);
  const resumed = written.acknowledged.some((ack) => ack.at > report.startedAt + report.writableAfterMs);
  const lost = written.acknowledged.length - stored;
  return {
    ms: resumed ? resumedAfterMs : Number.NaN,
    note:
      `${written.acknowledged.length.toLocaleString("en-US")} acknowledged, ${written.failed.length} failed, ` +
      `${lost} lost, last failure at ${(lastFailureAfterMs / 1000).toFixed(1)} s, promoted at ` +
      `${(report.writableAfterMs / 1000).toFixed(1)} s${resumed ? "" : ", no write succeeded after"}`,
  };
}

/**
 * 16 writers of new keys through `open`'s path while the formation loses its primary: the time
 * from the loss until writes succeed again, and how many acknowledged writes are missing after.
 */
interface Failure {
  /** Loses the primary; resolves once the other node takes writes. */
  fail(formation: Formation): Promise<FailoverReport>;
  /** Makes the formation whole again after the run, for the next. */
  recover?(formation: Formation): Promise<void>;
}

function failoverContender(
  name: string,
  formation: () => Promise<{ formation: Formation; primary: postgres.Sql }>,
  { fail, recover }: Failure,
  open: (formation: Formation, run: number) => Promise<Writer>,
): ProbeContender {
  return {
    name,
    probe: async (run) => {
      const { formation: current, primary } = await formation();
      const writer = await open(current, run);
      try {
        const load = startWriters((key) => writer.write(`${run}-${key}`), WRITERS);
        await sleep(1000);
        const report = await fail(current);
        await sleep(2000);
        const written = await load.stop();
        const keys = written.acknowledged.map((ack) => `${run}-${ack.key}`);
        return failoverSample(written, await untilAnswered(() => writer.stored(keys, primary)), report);
      } finally {
        await writer.close();
        await recover?.(current);
      }
    },
  };
}

/** The failover workloads, on one formation started on first use; `close` stops it. */
export function failoverWorkloads(sizes: Sizes): { workloads: Workload[]; close(): Promise<void> } {
  const unavailable = autoFailoverUnavailable();
  if (unavailable !== undefined) {
    process.stderr.write(`failover: skipped (${unavailable})\n`);
    return { workloads: [], close: async () => {} };
  }
  let started: Promise<{ formation: Formation; primary: postgres.Sql }> | undefined;
  const formation = () => {
    started ??= (async () => {
      const made = await startFormation();
      // The bench's own connection: postgres.js's `primary` (not in hot standby) finds it.
      const primary = postgres(made.url.replace("read-write", "primary"), { max: 1, onnotice: () => {} });
      await primary.unsafe(PLAIN_FAILOVER);
      return { formation: made, primary };
    })();
    return started;
  };
  const paths = (fail: Failure) => [
    failoverContender("raw postgres.js, target_session_attrs=read-write", formation, fail, (f) => rawPostgresJs(f.url)),
    failoverContender("the store on postgres.js (createPostgresStore)", formation, fail, async (f, run) => {
      const store = await createPostgresStore(f.url);
      return storeWriter(store, `/failover/postgres-js/${run}/`, () => store.close());
    }),
    failoverContender("the store on node-postgres (connectNodePostgres)", formation, fail, async (f, run) => {
      const connection = await connectNodePostgres(f.dsn);
      const store = await createStoreWithDb(connection.db);
      return storeWriter(store, `/failover/node-postgres/${run}/`, async () => {
        await store.close();
        await connection.close();
      });
    }),
  ];
  const workload = (name: string, fail: Failure): Workload => ({
    section: "cluster",
    name,
    unit: "ms",
    per: 1,
    runs: sizes.slowRuns,
    warmup: false,
    contenders: paths(fail),
  });
  const workloads = [workload("failover · pg_autoctl perform failover", { fail: (f) => f.failover() })];
  if (sizes.name === "full") {
    workloads.push(
      workload("failover · primary stopped (pg_ctl stop -m immediate)", {
        fail: (f) => f.stopPrimaryHard(),
        // The old primary rejoins as a standby before the next run.
        recover: (f) => f.restartStopped(),
      }),
    );
  }
  return {
    workloads,
    close: async () => {
      if (started === undefined) return;
      const { formation: made, primary } = await started;
      await primary.end({ timeout: 1 });
      await made.stop();
    },
  };
}

/** `entries` of a large prefix, read from the primary or the standby, while writer processes load the primary. */
export function replicaWorkloads(sizes: Sizes): { workloads: Workload[]; close(): Promise<void> } {
  const unavailable = replicationUnavailable();
  if (unavailable !== undefined) {
    process.stderr.write(`replica: skipped (${unavailable})\n`);
    return { workloads: [], close: async () => {} };
  }
  const prefix = "/bench/replica-large";
  let ready: Promise<{ primaryUrl: string; store: Store; raw: postgres.Sql; stop(): Promise<void> }> | undefined;
  const setUp = () => {
    ready ??= (async () => {
      const pair = await startReplicatedPair();
      const store = await createPostgresStore(pair.primaryUrl, { readReplicas: [pair.standbyUrl] });
      await store.setMany(prefix, entries(sizes.walkLarge, sizes.smallValue));
      const raw = postgres(pair.primaryUrl, { max: 10, onnotice: () => {} });
      await raw`analyze workflow_store`;
      await pair.caughtUp();
      return {
        primaryUrl: pair.primaryUrl,
        store,
        raw,
        stop: async () => {
          await store.close();
          await raw.end();
          await pair.stop();
        },
      };
    })();
    return ready;
  };
  /** Times `walk` while 4 writer processes upsert into other prefixes of the primary. */
  const underLoad = (name: string, walk: (store: Store, raw: postgres.Sql) => Promise<unknown>): ProbeContender => ({
    name,
    probe: async () => {
      const { primaryUrl, store, raw } = await setUp();
      const startAt = Date.now() + 1500;
      const writers = Array.from({ length: PROCESSES }, () =>
        runScript("bench/process-writer.ts", [
          "raw",
          primaryUrl,
          "distinct",
          String(startAt),
          String(sizes.processMs + 3000),
        ]),
      );
      await sleep(Math.max(0, startAt - Date.now()) + 500);
      const start = performance.now();
      await walk(store, raw);
      const ms = performance.now() - start;
      const writes = (await Promise.all(writers)).reduce((sum, result) => sum + Number(result.writes), 0);
      return { ms, note: `${writes.toLocaleString("en-US")} writes beside it` };
    },
  });
  const collect = async (rows: AsyncIterable<unknown>) => {
    let count = 0;
    for await (const _ of rows) count++;
    if (count !== sizes.walkLarge) throw new Error(`walked ${count} rows, not ${sizes.walkLarge}`);
  };
  return {
    workloads: [
      {
        section: "cluster",
        name: `entries of ${sizes.walkLarge.toLocaleString("en-US")} keys, writers loading the primary`,
        unit: "ms",
        per: 1,
        runs: sizes.slowRuns,
        warmup: false,
        contenders: [
          underLoad(
            "raw postgres.js, one query on the primary",
            (_, raw) =>
              raw`select key, value, created_at, updated_at, revision from workflow_store where prefix = ${prefix} order by key collate "C"`,
          ),
          underLoad("the store, on the primary (default)", (store) => collect(store.entries(prefix))),
          underLoad("the store, on the standby (consistency: replica)", (store) =>
            collect(store.entries(prefix, { consistency: "replica" })),
          ),
        ],
      },
    ],
    close: async () => {
      if (ready !== undefined) await (await ready).stop();
    },
  };
}
