import type { Command } from "commander";
import { checkKey, checkPrefix } from "../../index.js";
import { positiveInteger } from "../arguments.js";
import { consistencyOf, globalOptions, withStore } from "../connection.js";
import { type CliRun, field } from "../output.js";

/** `ls <prefix> [--json] [--after KEY] [--limit N]`: keys with their sizes and update times. */
export function registerLs(program: Command, run: CliRun): void {
  program
    .command("ls")
    .description(
      "list a prefix's keys in byte order: key, size in bytes and updated_at (UTC), tab-separated, one per line",
    )
    .argument("<prefix>", "the prefix")
    .option("--json", "print one JSON object {key, size, updatedAt} per line instead")
    .option("--after <key>", "start after this key (exclusive): pass the last key of a page to get the next")
    .option("--limit <n>", "list at most this many keys", positiveInteger)
    .action(async (prefix: string, options: { json?: boolean; after?: string; limit?: number }, command: Command) => {
      checkPrefix("keys", prefix);
      if (options.after !== undefined) checkKey("keys", prefix, options.after);
      const globals = globalOptions(command);
      await withStore(run, globals, async (store) => {
        const range = {
          ...consistencyOf(globals),
          ...(options.after !== undefined && { after: options.after }),
          ...(options.limit !== undefined && { limit: options.limit }),
        };
        for await (const { key, size, updatedAt } of store.keyStats(prefix, range)) {
          const time = updatedAt.toISOString();
          await run.printLine(
            options.json ? JSON.stringify({ key, size, updatedAt: time }) : `${field(key)}\t${size}\t${time}`,
          );
        }
      });
    });
}
