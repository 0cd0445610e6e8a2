// A three-step workflow (fetch → transform → load) that keeps its state where the workflow engine
// keeps it. `npm start` begins a run and is interrupted after step two, as if the process had
// crashed; the next `npm start` finds the unfinished run in the store, prints
// `resuming run <id> at step 3`, skips steps one and two (their records are there) and runs step
// three. The one after that starts a new run.
//
// Without DATABASE_URL the store is embedded (PGlite) in ./.workflow-store-demo, which the runs
// share; with DATABASE_URL it is that PostgreSQL server. A finished run's rows are removed.
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { configFromEnv, createEmbeddedStore, createPostgresStore, type Store } from "../src/index.js";

// The Go engine's layout (runtime/dag_plan.go, runner.go and flow_context.go), so that the engine
// and this example read each other's rows:
/** Key: run id. The plan the run follows. */
const DAG_PLAN_PATH = "/dag/";
/** Key: run id. Where an unfinished run goes on; removed when the run ends. */
const RUN_CONTEXT_PATH = "/run_context/";
/** Prefix `/record/<run id>`, key: the vertex path (`etl.fetch`). One trace record per finished step. */
const RECORD_PATH = "/record/";

// Field names as Go's encoding/json writes the engine's structs.
interface Plan {
  Name: string;
  StartVertex: string;
  Vertex: Record<string, { Type: number }>;
  Links: Record<string, string>;
}
interface RunContext {
  Status: number;
  Entrypoint: string[];
  Data: unknown;
}
interface TraceRecord {
  Path: string[];
  Vertex: string[];
  StartTime: string;
  EndTime: string;
  Input: unknown;
  Output: unknown;
}

// The engine's vertexNode, and its Pending and Running statuses.
const VERTEX_NODE = 1;
const PENDING = 1;
const RUNNING = 2;

const ETL: Plan = {
  Name: "etl",
  StartVertex: "fetch",
  Vertex: { fetch: { Type: VERTEX_NODE }, transform: { Type: VERTEX_NODE }, load: { Type: VERTEX_NODE } },
  Links: { fetch: "transform", transform: "load" },
};

const steps: Record<string, (input: unknown) => unknown> = {
  fetch: () => [3, 1, 2],
  transform: (input) => (input as number[]).map((n) => n * 10).sort((a, b) => a - b),
  load: (input) => ({ rows: (input as number[]).length, total: (input as number[]).reduce((a, b) => a + b, 0) }),
};

const encode = (value: unknown) => Buffer.from(JSON.stringify(value));
const decode = <T>(bytes: Buffer) => JSON.parse(bytes.toString("utf8")) as T;

/** The steps of a plan in order, from its start vertex along its links. */
function stepsOf(plan: Plan): string[] {
  const order: string[] = [];
  for (let vertex: string | undefined = plan.StartVertex; vertex !== undefined; vertex = plan.Links[vertex]) {
    order.push(vertex);
  }
  return order;
}

/** The run a crashed process left: the first key under the run contexts, or none. */
async function unfinishedRun(store: Store): Promise<string | undefined> {
  for await (const runId of store.keys(RUN_CONTEXT_PATH, { limit: 1 })) return runId;
  return undefined;
}

/** Starts a run: its plan and its context land together. */
async function startRun(store: Store, runId: string): Promise<void> {
  const start: RunContext = { Status: PENDING, Entrypoint: [ETL.Name, ETL.StartVertex], Data: null };
  await store.transaction(async (tx) => {
    await tx.set(DAG_PLAN_PATH, runId, encode(ETL));
    await tx.set(RUN_CONTEXT_PATH, runId, encode(start));
  });
}

/**
 * Runs the workflow `runId` from wherever the store says it stands: steps with a record are
 * skipped. Stops before running a step once `stopAfter` steps have run: the simulated crash.
 */
async function runWorkflow(store: Store, runId: string, stopAfter = Number.POSITIVE_INFINITY) {
  const saved = await store.get(DAG_PLAN_PATH, runId);
  if (saved === null) throw new Error(`run ${runId} has a context but no plan under ${DAG_PLAN_PATH}`);
  const plan = decode<Plan>(saved);
  const recordPrefix = RECORD_PATH + runId;
  const records = new Map<string, TraceRecord>();
  for await (const { key, value } of store.entries(recordPrefix)) records.set(key, decode<TraceRecord>(value));

  let data: unknown = null;
  let ran = 0;
  for (const vertex of stepsOf(plan)) {
    const path = [plan.Name, vertex];
    const done = records.get(path.join("."));
    if (done !== undefined) {
      data = done.Output;
      console.log(`  step ${vertex}: done earlier, skipped`);
      continue;
    }
    if (ran === stopAfter) return "interrupted";

    const startTime = new Date().toISOString();
    const step = steps[vertex];
    if (step === undefined) throw new Error(`the plan names a step this program does not have: ${vertex}`);
    const output = step(data);
    const record: TraceRecord = {
      Path: path,
      Vertex: path,
      StartTime: startTime,
      EndTime: new Date().toISOString(),
      Input: data,
      Output: output,
    };
    const next = plan.Links[vertex];
    // The record and the run context land together: a crash cannot leave one without the other.
    await store.transaction(async (tx) => {
      await tx.set(recordPrefix, path.join("."), encode(record));
      if (next === undefined) await tx.remove(RUN_CONTEXT_PATH, runId);
      else {
        const context: RunContext = { Status: RUNNING, Entrypoint: [plan.Name, next], Data: output };
        await tx.set(RUN_CONTEXT_PATH, runId, encode(context));
      }
    });
    data = output;
    ran += 1;
    console.log(`  step ${vertex}: ran, output ${JSON.stringify(output)}`);
  }
  return "finished";
}

const config = process.env.DATABASE_URL ? configFromEnv() : undefined;
const dataDir = resolve(".workflow-store-demo");
const where = config
  ? `PostgreSQL ${config.user}@${config.host}:${config.port}/${config.database}`
  : `embedded PGlite in ${dataDir}`;
console.log(`Workflow ${ETL.Name} (fetch → transform → load), store: ${where}`);

const store = config ? await createPostgresStore(config) : await createEmbeddedStore({ dataDir });
try {
  const resumed = await unfinishedRun(store);
  if (resumed === undefined) {
    const runId = `run-${randomUUID().slice(0, 8)}`;
    console.log(`new run ${runId}: plan saved under ${DAG_PLAN_PATH}, run context under ${RUN_CONTEXT_PATH}`);
    await startRun(store, runId);
    await runWorkflow(store, runId, 2);
    console.log(`interrupted after step 2, as if the process had crashed: run \`npm start\` again to resume ${runId}`);
  } else {
    const context = await store.get(RUN_CONTEXT_PATH, resumed);
    const next = context === null ? undefined : decode<RunContext>(context).Entrypoint[1];
    const plan = await store.get(DAG_PLAN_PATH, resumed);
    const position = plan === null || next === undefined ? -1 : stepsOf(decode<Plan>(plan)).indexOf(next);
    console.log(`resuming run ${resumed} at step ${position + 1} (${next}): plan and records read back from the store`);
    await runWorkflow(store, resumed);
    const records = await store.count(RECORD_PATH + resumed);
    console.log(`finished run ${resumed}: ${records} records under ${RECORD_PATH}${resumed}, run context removed`);
    await store.transaction(async (tx) => {
      await tx.removePrefix(RECORD_PATH + resumed);
      await tx.remove(DAG_PLAN_PATH, resumed);
    });
    console.log("the run's rows removed; the next `npm start` begins a new run");
  }
} catch (error) {
  console.error(`resumable-workflow failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await store.close();
}
