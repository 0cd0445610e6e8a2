// Two workers resume one interrupted run at the same time, and each step still runs exactly once.
// A worker claims the next step by compare-and-set on the run's context (`setIf` at the revision
// it read); the other worker's `setIf` fails with CONFLICT, and instead of polling it waits with
// `watch` for the run's context to change, from the revision it saw, so no change slips by.
//
// `npx tsx examples/two-workers.ts`. Without DATABASE_URL both workers share one embedded store
// (a data directory is opened by one store at a time); with DATABASE_URL each worker has a store,
// and connections, of its own.
import { randomUUID } from "node:crypto";
import { configFromEnv, createEmbeddedStore, createPostgresStore, type Store, StoreError } from "../src/index.js";

/** Key: run id. Where an unfinished run goes on, as the workflow engine keeps it. */
const RUN_CONTEXT_PATH = "/run_context/";
/** Prefix `/record/<run id>`, key: the step. One record per finished step. */
const RECORD_PATH = "/record/";

const STEPS = ["fetch", "transform", "load"] as const;

interface RunContext {
  /** The step to run next. */
  step: (typeof STEPS)[number];
  /** Who runs it now, if anyone. */
  owner: string | null;
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value));
const decode = (bytes: Buffer) => JSON.parse(bytes.toString("utf8")) as RunContext;

/** Waits until the run's context changes after `revision`, or the run ends. */
async function changeAfter(store: Store, runId: string, revision: number): Promise<void> {
  for await (const change of store.watch(RUN_CONTEXT_PATH, { fromRevision: revision })) {
    if (change.key === runId) return;
  }
}

/** One worker: claims and runs steps until the run is finished. */
async function worker(name: string, store: Store, runId: string): Promise<void> {
  for (;;) {
    const current = await store.getWithRevision(RUN_CONTEXT_PATH, runId);
    if (current === null) {
      console.log(`${name}: the run is finished`);
      return;
    }
    const context = decode(current.value);
    if (context.owner !== null) {
      console.log(`${name}: step ${context.step} is ${context.owner}'s; waiting for the run to move`);
      await changeAfter(store, runId, current.revision);
      continue;
    }
    let claimed: number;
    try {
      claimed = await store.setIf(RUN_CONTEXT_PATH, runId, encode({ ...context, owner: name }), {
        revision: current.revision,
      });
    } catch (error) {
      if (!(error instanceof StoreError && error.code === "CONFLICT")) throw error;
      console.log(`${name}: lost the claim of step ${context.step} (now at revision ${error.revision})`);
      continue;
    }
    console.log(`${name}: ran step ${context.step}`);
    await store.set(RECORD_PATH + runId, context.step, encode({ by: name }));
    const next = STEPS[STEPS.indexOf(context.step) + 1];
    // Moving the run on is a compare-and-set too: had the claim been lost meanwhile, this fails.
    if (next === undefined) await store.removeIf(RUN_CONTEXT_PATH, runId, { revision: claimed });
    else await store.setIf(RUN_CONTEXT_PATH, runId, encode({ step: next, owner: null }), { revision: claimed });
  }
}

const runId = `run-${randomUUID().slice(0, 8)}`;
const shared = process.env.DATABASE_URL ? undefined : await createEmbeddedStore();
const open = () => (shared === undefined ? createPostgresStore(configFromEnv()) : Promise.resolve(shared));
const [a, b] = [await open(), await open()];
try {
  // The run was interrupted before its first step; two workers pick it up at once.
  await a.setIf(RUN_CONTEXT_PATH, runId, encode({ step: "fetch", owner: null }), { revision: 0 });
  await Promise.all([worker("worker A", a, runId), worker("worker B", b, runId)]);
  const records = [];
  for await (const entry of a.entries(RECORD_PATH + runId)) records.push(entry.key);
  console.log(`finished: records ${records.join(", ")} under ${RECORD_PATH}${runId}`);
  await a.removePrefix(RECORD_PATH + runId);
} finally {
  await a.close();
  await b.close();
}
