import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";
import { cleanEnv, runProcess } from "./support/processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsxCli = join(root, "node_modules/tsx/dist/cli.mjs");

/** Where an example ran: the embedded store, or a database of its own on the server, to look at after it. */
type Target =
  | { backend: "embedded" }
  | { backend: "postgres"; database: string; query: (text: string) => Promise<Record<string, unknown>[]> };

/** Runs `examples/<file>` with tsx as `npm start` would, and fails on a non-zero exit or anything on stderr. */
async function runExample(file: string, env: Record<string, string>): Promise<string> {
  const result = await runProcess(process.execPath, [tsxCli, join("examples", file)], {
    cwd: root,
    env,
    timeoutMs: 90_000,
  });
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
    // Twice: a second `npm start` on the same database is a new run and works as well.
    runs: 2,
    check: async (outputs, target) => {
      const runIds = new Set<string>();
      for (const stdout of outputs) {
        const [first, second] = stdout.split(/^Run 2.*$/m);
        expect(second, stdout).toBeDefined();
        expect(stepLines(first ?? "")).toEqual([
          "step fetch: ran, output [3,1,2]",
          "step transform: ran, output [10,20,30]",
        ]);
        expect(first).toMatch(/interrupted after 2 steps/);
        expect(second).toMatch(/unfinished run found: plan read back from \/dag\/, next step etl\.load/);
        expect(stepLines(second ?? "")).toEqual([
          "step fetch: done earlier, skipped",
          "step transform: done earlier, skipped",
          'step load: ran, output {"rows":3,"total":60}',
        ]);
        const finished = /finished: 3 records under \/record\/(run-[0-9a-f]{8}), run context removed/.exec(stdout);
        expect(finished, stdout).not.toBeNull();
        runIds.add(finished?.[1] ?? "");
        const store = /store: (.+)$/m.exec(stdout)?.[1] ?? "";
        if (target.backend === "embedded") {
          // The store lived in a temporary directory, removed at the end.
          const dataDir = /^embedded PGlite in (\S*workflow-store-demo-\S+)$/.exec(store)?.[1];
          expect(dataDir, stdout).toBeDefined();
          expect(existsSync(dataDir ?? "")).toBe(false);
        } else {
          expect(store, stdout).toMatch(new RegExp(`^PostgreSQL \\S+/${target.database}$`));
        }
      }
      expect(runIds.size).toBe(outputs.length);
      if (target.backend === "postgres") {
        // It worked in the database it was given, and took its rows away again.
        expect(await target.query("select count(*)::int as n from workflow_store")).toEqual([{ n: 0 }]);
      }
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
      const outputs: string[] = [];
      for (let i = 0; i < example.runs; i++) {
        outputs.push(await runExample(file, cleanEnv()));
      }
      await example.check(outputs, { backend: "embedded" });
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
      try {
        const outputs: string[] = [];
        for (let i = 0; i < example.runs; i++) {
          outputs.push(await runExample(file, cleanEnv({ DATABASE_URL: database.url })));
        }
        const { client } = database.connect();
        await example.check(outputs, {
          backend: "postgres",
          database: new URL(database.url).pathname.slice(1),
          query: async (text) => [...(await client.unsafe(text))],
        });
      } finally {
        await database.drop();
      }
    },
    240_000,
  );
});
