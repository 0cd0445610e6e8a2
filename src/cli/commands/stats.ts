import type { Command } from "commander";
import { count, desc, sql } from "drizzle-orm";
import { positiveInteger } from "../arguments.js";
import { globalOptions, withStore } from "../connection.js";
import { type CliRun, field } from "../output.js";
import { queryTable } from "../table-query.js";

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
      await withStore(run, globals, async (_store, connection) => {
        const rows = await queryTable(connection, globals.schema, (db, table) => {
          const bytes = sql<number>`coalesce(sum(octet_length(${table.value})), 0)`.mapWith(Number);
          return db
            .select({ prefix: table.prefix, rows: count(), bytes })
            .from(table)
            .groupBy(table.prefix)
            .orderBy(desc(bytes), desc(count()), sql`${table.prefix} collate "C"`)
            .limit(options.top ?? DEFAULT_TOP);
        });
        for (const row of rows) {
          await run.printLine(options.json ? JSON.stringify(row) : `${field(row.prefix)}\t${row.rows}\t${row.bytes}`);
        }
      });
    });
}
