import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { CommandFailure, EXIT_CODES } from "../exit-codes.js";
import { guardMigration } from "../migration-guard.js";
import { printLine } from "../output.js";

/**
 * `guard-migrations [folder]`: for an app whose own drizzle-kit schema lists the store's table,
 * makes its generated migrations safe to apply whoever created the table first, and keeps the
 * table when the app stops listing it. Needs no database.
 */
export function registerGuardMigrations(program: Command): void {
  program
    .command("guard-migrations")
    .argument("[folder]", "the app's drizzle-kit migrations folder (its `out`)", "./drizzle")
    .description("make an app's generated migrations create the workflow_store table only if absent and never drop it")
    .action(async (folder: string) => {
      let files: string[];
      try {
        files = (await readdir(folder)).filter((file) => file.endsWith(".sql")).sort();
      } catch {
        throw new CommandFailure(EXIT_CODES.USAGE, `no migrations folder at ${folder}`);
      }
      let changed = 0;
      for (const file of files) {
        const path = join(folder, file);
        const { sql, changes } = guardMigration(await readFile(path, "utf8"));
        if (changes.length === 0) continue;
        await writeFile(path, sql);
        changed++;
        for (const change of changes) await printLine(`${path}: ${change.before} -> ${change.after}`);
      }
      if (changed === 0) await printLine(`nothing to change in ${folder}`);
    });
}
