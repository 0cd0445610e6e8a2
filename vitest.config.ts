import { statfsSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { PGLITE_NODE_FLAGS } from "./test/support/processes.js";

const jsonReport = process.env.VITEST_JSON_REPORT;

/**
 * The tests' scratch files (PGlite data directories of tens of megabytes each, copied and removed
 * by the dozen, the app that installs the packed package) go to memory, /dev/shm, where the
 * machine has one with room to spare and TMPDIR does not say otherwise: on a virtual machine's
 * disk, copying and removing them takes a large share of the suite's time.
 */
function scratchInMemory(): string | undefined {
  if (process.env.TMPDIR) return undefined;
  try {
    const { bavail, bsize } = statfsSync("/dev/shm");
    return bavail * bsize >= 4 * 1024 ** 3 ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}
const scratch = scratchInMemory();
// Read by os.tmpdir() in this process (the global setup), the workers and their child processes.
if (scratch !== undefined) process.env.TMPDIR = scratch;

/**
 * Vitest's order (longest first by the last run's timings, else larger files first), with the
 * conformance files at the front: each is a few lines that run the whole suite on a backend, among
 * the longest files, so that without timings (a fresh clone, as in CI) they would start last and
 * leave one worker running them alone at the end.
 */
class ConformanceFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isConformance = (file: TestSpecification) => /\/conformance-[^/]*\.test\.ts$/.test(file.moduleId);
    return [...sorted.filter(isConformance), ...sorted.filter((file) => !isConformance(file))];
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    // Two files at a time, one per core: PGlite and the child processes keep both cores busy, and a
    // third file at a time only slows the others down.
    maxWorkers: 2,
    // Each worker runs file after file in one process, keeping what it loaded (the modules, PGlite's
    // compiled WebAssembly) instead of starting a process per file. The files share no state: each
    // opens and closes its own stores, databases and directories, and restores what it changes.
    isolate: false,
    // PGlite runs in the workers too.
    execArgv: PGLITE_NODE_FLAGS,
    sequence: { sequencer: ConformanceFirst },
    hookTimeout: 120_000,
    // Far from UTC on the JavaScript side too, so no timestamp passes by luck.
    env: { TZ: "America/St_Johns" },
    // CI asks for a JSON report beside the usual output, to count the tests.
    reporters: jsonReport ? ["default", ["json", { outputFile: jsonReport }]] : ["default"],
  },
});
