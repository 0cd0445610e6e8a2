import type { Command } from "commander";
import { checkPrefix, DEFAULT_PURGE_BATCH_SIZE } from "../../index.js";
import { cutoff, positiveInteger } from "../arguments.js";
import { globalOptions, withStore } from "../connection.js";
import { type CliRun, rows } from "../output.js";
import { purgeProgress } from "../progress.js";

interface PurgeCommandOptions {
  olderThan: Date;
  prefix?: string;
  dryRun?: boolean;
  batchSize?: number;
}

/** `purge --older-than <age|date> [--prefix P] [--dry-run]`: deletes rows not written since the cutoff. */
export function registerPurge(program: Command, run: CliRun): void {
  program
    .command("purge")
    .description("delete rows not written since a cutoff, in batches; prints how many it removed")
    .requiredOption(
      "--older-than <age|date>",
      "remove rows whose updated_at is before this: an age (30d, 12h, 90m, 45s) or an ISO date (UTC unless it has an offset)",
      (value: string) => cutoff(value),
    )
    .option("--prefix <prefix>", "only in this prefix (default: every prefix)")
    .option("--dry-run", "print how many rows would be removed, and remove none")
    .option("--batch-size <n>", `rows per statement (default: ${DEFAULT_PURGE_BATCH_SIZE})`, positiveInteger)
    .action(async (options: PurgeCommandOptions, command: Command) => {
      if (options.prefix !== undefined) checkPrefix("purge", options.prefix);
      const globals = globalOptions(command);
      await withStore(run, globals, async (store) => {
        const where = {
          olderThan: options.olderThan,
          ...(options.prefix !== undefined && { prefix: options.prefix }),
        };
        const total = await store.purge({ ...where, dryRun: true });
        if (options.dryRun) {
          await run.printLine(String(total));
          run.note(`dry run: ${rows(total)} updated before ${options.olderThan.toISOString()} would be removed`);
          return;
        }
        if (total === 0) {
          await run.printLine("0");
          return;
        }
        const progress = purgeProgress(total, run.io.stderr);
        let removed: number;
        try {
          removed = await store.purge({
            ...where,
            ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
            onProgress: (removedSoFar) => progress.update(removedSoFar),
          });
        } finally {
          progress.stop();
        }
        await run.printLine(String(removed));
      });
    });
}
