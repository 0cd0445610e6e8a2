import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { describe, expect, it } from "vitest";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";
import { cleanEnv, PGLITE_NODE_FLAGS, runProcess } from "./support/processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
// tsx's loader in the example's own node process, as `tsx` runs it (without the parent process the
// tsx command keeps beside it).
const tsxLoader = pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href;

/**
 * Where an example ran: the directory it ran in, and the embedded store (whose data directory, if
 * it kept one, is ./.workflow-store-demo there) or a database of its own on the server, to look at
 * after it.
 */
type Target = { cwd: string; query: (text: string) => Promise<Record<string, unknown>[]> } & (
  | { backend: "embedded" }
  | { backend: "postgres"; database: string }
);

/** Runs `examples/<file>` with tsx as `npm start` does, and fails on a non-zero exit or anything on stderr. */
async function runExample(file: string, cwd: string, env: Record<string, string>): Promise<string> {
  const result = await runProcess(
    process.execPath,
    [...PGLITE_NODE_FLAGS, "--import", tsxLoader, join(root, "examples", file)],
    {
      cwd,
      env,
      timeoutMs: 90_000,
    },
  );
  expect(result.stderr, `stderr of ${file}`).toBe("");
  expect(result.code, `exit code of ${file}; stdout:\n${result.stdout}`).toBe(0);
  return result.stdout;
}

/** The "step …" lines of an output, unindented, in order. */
const stepLines = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("step "));

/** One case per file in examples/: how many times to run it and what its output must show. */
const cases: Record<string, { runs: number; check: (outputs: string[], target: Target) => Promise<void> }> = {
  "resumable-workflow.ts": {
    // Three processes on one store, as three `npm start`s: a run interrupted after step two, its
    // resumption at step three, and a new run.
    runs: 3,
    check: async ([first = "", second = "", third = ""], target) => {
      const started = /^new run (run-[0-9a-f]{8}):/m.exec(first)?.[1];
      expect(started, first).toBeDefined();
      expect(stepLines(first)).toEqual(["step fetch: ran, output [3,1,2]", "step transform: ran, output [10,20,30]"]);
      expect(first).toContain(
        `interrupted after step 2, as if the process had crashed: run \`npm start\` again to resume ${started}`,
      );

      expect(second).toMatch(new RegExp(`^resuming run ${started} at step 3 \\(load\\):`, "m"));
      expect(stepLines(second)).toEqual([
        "step fetch: done earlier, skipped",
        "step transform: done earlier, skipped",
        'step load: ran, output {"rows":3,"total":60}',
      ]);
      expect(second).toContain(`finished run ${started}: 3 records under /record/${started}, run context removed`);

      const next = /^new run (run-[0-9a-f]{8}):/m.exec(third)?.[1];
      expect(next, third).toBeDefined();
      expect(next).not.toBe(started);
      expect(stepLines(third)).toHaveLength(2);

      const store = /store: (.+)$/m.exec(first)?.[1] ?? "";
      if (target.backend === "embedded") {
        // The runs shared ./.workflow-store-demo in the directory they ran in.
        expect(store).toBe(`embedded PGlite in ${join(target.cwd, ".workflow-store-demo")}`);
      } else {
        expect(store, first).toMatch(new RegExp(`^PostgreSQL \\S+/${target.database}$`));
      }
      // What is left is the third run's: its plan and context, and its two records.
      expect(await target.query("select prefix, key from workflow_store order by prefix, key")).toEqual([
        { prefix: "/dag/", key: next },
        { prefix: `/record/${next}`, key: "etl.fetch" },
        { prefix: `/record/${next}`, key: "etl.transform" },
        { prefix: "/run_context/", key: next },
      ]);
    },
  },
  "app-transaction.ts": {
    runs: 1,
    check: async ([stdout = ""], target) => {
      expect(stdout).toContain(target.backend === "embedded" ? "PGlite in memory" : "PostgreSQL from DATABASE_URL");
      expect(stdout).toMatch(/^committed order-\w+: order row yes, run context under \/run_context\/ yes$/m);
      expect(stdout).toMatch(
        /^rolled back order-\w+ \(payment declined\): order row no, run context under \/run_context\/ no$/m,
      );
      if (target.backend === "postgres") {
        expect(await target.query("select count(*)::int as n from example_orders")).toEqual([{ n: 0 }]);
        expect(await target.query("select count(*)::int as n from workflow_store")).toEqual([{ n: 0 }]);
      }
    },
  },
  "two-workers.ts": {
    runs: 1,
    check: async ([stdout = ""], target) => {
      // Whichever worker wins each claim, every step runs exactly once and both see the run end.
      for (const step of ["fetch", "transform", "load"]) {
        expect(stdout.match(new RegExp(`^worker [AB]: ran step ${step}$`, "gm")), stdout).toHaveLength(1);
      }
      expect(stdout.match(/^worker [AB]: the run is finished$/gm), stdout).toHaveLength(2);
      expect(stdout).toMatch(/^finished: records fetch, load, transform under \/record\/run-\w+$/m);
      if (target.backend === "postgres") {
        expect(await target.query("select count(*)::int as n from workflow_store")).toEqual([{ n: 0 }]);
      }
    },
  },
  "deploy-step.ts": {
    runs: 1,
    check: async ([stdout = ""], target) => {
      expect(stdout).toContain(target.backend === "embedded" ? "PGlite in memory" : "PostgreSQL from DATABASE_URL");
      expect(stdout).toContain("migrations applied; running the step again changed nothing");
      expect(stdout).toMatch(/^App start-up: store created with autoMigrate: false; 0 plans under \/dag\/$/m);
      if (target.backend === "postgres") {
        // The step left the table in the database it was pointed at.
        expect(await target.query("select to_regclass('workflow_store') is not null as present")).toEqual([
          { present: true },
        ]);
      }
    },
  },
};

describe("examples", () => {
  it("every file in examples/ has a case here, and npm start runs one of them", () => {
    expect(readdirSync(join(root, "examples")).sort()).toEqual(Object.keys(cases).sort());
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const started = /^tsx examples\/(\S+)$/.exec(pkg.scripts.start ?? "")?.[1];
    expect(Object.keys(cases)).toContain(started);
  });
});

describe("examples on the embedded store", () => {
  it.each(Object.keys(cases))(
    "%s",
    async (file) => {
      const example = cases[file];
      if (example === undefined) throw new Error(`no case for ${file}`);
      const cwd = mkdtempSync(join(tmpdir(), "dws-example-"));
      try {
        const outputs: string[] = [];
        for (let i = 0; i < example.runs; i++) outputs.push(await runExample(file, cwd, cleanEnv()));
        const query = async (text: string) => {
          const client = await PGlite.create(join(cwd, ".workflow-store-demo"));
          try {
            return (await client.query<Record<string, unknown>>(text)).rows;
          } finally {
            await client.close();
          }
        };
        await example.check(outputs, { backend: "embedded", cwd, query });
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
    240_000,
  );
});

describe.skipIf(databaseUrl === null)(`examples on PostgreSQL${skipReason}`, () => {
  it.each(Object.keys(cases))(
    "%s",
    async (file) => {
      const example = cases[file];
      if (example === undefined) throw new Error(`no case for ${file}`);
      const database = await freshDatabase(`example_${file.replace(/\W/g, "_")}`);
      const cwd = mkdtempSync(join(tmpdir(), "dws-example-"));
      try {
        const outputs: string[] = [];
        for (let i = 0; i < example.runs; i++) {
          outputs.push(await runExample(file, cwd, cleanEnv({ DATABASE_URL: database.url })));
        }
        const { client } = database.connect();
        await example.check(outputs, {
          backend: "postgres",
          cwd,
          database: new URL(database.url).pathname.slice(1),
          query: async (text) => [...(await client.unsafe(text))],
        });
      } finally {
        rmSync(cwd, { recursive: true, force: true });
        await database.drop();
      }
    },
    240_000,
  );
});
