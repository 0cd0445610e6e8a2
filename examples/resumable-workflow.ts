// A three-step workflow (fetch → transform → load) that keeps its state where the workflow engine
// keeps it, is interrupted after step two, and is finished by a second run that reads its plan and
// records back from the store: steps one and two are skipped, step three runs.
//
// `npm start` runs it. Without DATABASE_URL it uses the embedded store (PGlite) in a temporary
// directory, closed and re-opened between the two runs and removed at the end. With DATABASE_URL it
// uses that PostgreSQL server and removes the run's rows when it is done. Each invocation is a new
// run, so it can be run again and again.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/**
 * Runs the workflow `runId` from wherever the store says it stands. Stops before running a step
 * once `stopAfter` steps have run in this call: the simulated crash.
 */
async function runWorkflow(store: Store, runId: string, stopAfter = Number.POSITIVE_INFINITY) {
  const recordPrefix = RECORD_PATH + runId;
  const saved = await store.get(DAG_PLAN_PATH, runId);
  const plan = saved === null ? ETL : decode<Plan>(saved);
  if (saved === null) {
    const start: RunContext = { Status: PENDING, Entrypoint: [plan.Name, plan.StartVertex], Data: null };
    await store.transaction(async (tx) => {
      await tx.set(DAG_PLAN_PATH, runId, encode(plan));
      await tx.set(RUN_CONTEXT_PATH, runId, encode(start));
    });
    console.log(`  new run: plan saved under ${DAG_PLAN_PATH}, run context under ${RUN_CONTEXT_PATH}`);
  } else {
    const context = await store.get(RUN_CONTEXT_PATH, runId);
    const next = context === null ? "none" : decode<RunContext>(context).Entrypoint.join(".");
    console.log(`  unfinished run found: plan read back from ${DAG_PLAN_PATH}, next step ${next}`);
  }

  const records = new Map<string, TraceRecord>();
  for await (const { key, value } of store.entries(recordPrefix)) records.set(key, decode<TraceRecord>(value));

  let data: unknown = null;
  let ran = 0;
  for (let vertex: string | undefined = plan.StartVertex; vertex !== undefined; vertex = plan.Links[vertex]) {
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

const runId = `run-${randomUUID().slice(0, 8)}`;
const onServer = Boolean(process.env.DATABASE_URL);
const dataDir = onServer ? undefined : mkdtempSync(join(tmpdir(), "workflow-store-demo-"));
const open = () => (onServer ? createPostgresStore(configFromEnv()) : createEmbeddedStore({ dataDir }));

try {
  const config = onServer ? configFromEnv() : undefined;
  const where = config
    ? `PostgreSQL ${config.user}@${config.host}:${config.port}/${config.database}`
    : `embedded PGlite in ${dataDir}`;
  console.log(`Workflow ${ETL.Name} (fetch → transform → load), run ${runId}, store: ${where}`);

  console.log("Run 1");
  const first = await open();
  try {
    const outcome = await runWorkflow(first, runId, 2);
    console.log(`  ${outcome} after 2 steps (a simulated crash); store closed`);
  } finally {
    await first.close();
  }

  console.log("Run 2, store re-opened");
  const second = await open();
  try {
    const outcome = await runWorkflow(second, runId);
    const records = await second.count(RECORD_PATH + runId);
    const context = (await second.has(RUN_CONTEXT_PATH, runId)) ? "kept" : "removed";
    console.log(`  ${outcome}: ${records} records under ${RECORD_PATH}${runId}, run context ${context}`);
    if (onServer) {
      await second.transaction(async (tx) => {
        await tx.removePrefix(RECORD_PATH + runId);
        await tx.remove(DAG_PLAN_PATH, runId);
      });
      console.log("  the run's rows removed from the database");
    }
  } finally {
    await second.close();
  }
} catch (error) {
  console.error(`resumable-workflow failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
}
