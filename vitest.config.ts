import { defineConfig } from "vitest/config";

const jsonReport = process.env.VITEST_JSON_REPORT;

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    // Most of the time is spent waiting on PostgreSQL, PGlite and child processes: two files at a time.
    maxWorkers: 2,
    hookTimeout: 120_000,
    // Far from UTC on the JavaScript side too, so no timestamp passes by luck.
    env: { TZ: "America/St_Johns" },
    // CI asks for a JSON report beside the usual output, to count the tests.
    reporters: jsonReport ? ["default", ["json", { outputFile: jsonReport }]] : ["default"],
  },
});
