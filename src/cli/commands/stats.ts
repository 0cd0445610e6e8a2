import type { Command } from "commander";
import { positiveInteger } from "../arguments.js";
import { consistencyOf, globalOptions, withStore } from "../connection.js";
import { type CliRun, field } from "../output.js";

/** How many prefixes `stats` shows when `--top` is not given. */
const DEFAULT_TOP = 20;

/** `stats [--top N] [--json]`: rows and bytes per prefix, largest first. */
export function registerStats(program: Command, run: CliRun): void {
  program
    .command("stats")
    .description(
      "print rows and bytes of values per prefix, largest (in bytes) first: prefix, rows, bytes, tab-separated",
    )
    .option("--top <n>", `show this many prefixes (default: ${DEFAULT_TOP})`, positiveInteger)
    .option("--json", "print one JSON object {prefix, rows, bytes} per line instead")
    .action(async (options: { top?: number; json?: boolean }, command: Command) => {
      const globals = globalOptions(command);
      await withStore(run, globals, async (store) => {
        for (const row of await store.prefixStats({ limit: options.top ?? DEFAULT_TOP, ...consistencyOf(globals) })) {
          await run.printLine(options.json ? JSON.stringify(row) : `${field(row.prefix)}\t${row.rows}\t${row.bytes}`);
        }
      });
    });
}
