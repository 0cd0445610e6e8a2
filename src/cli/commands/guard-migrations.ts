import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { CommandFailure, EXIT_CODES } from "../exit-codes.js";
import { guardMigration } from "../migration-guard.js";
import type { CliRun } from "../output.js";

/**
 * `guard-migrations [folder]`: for an app whose own drizzle-kit schema lists the store's table,
 * makes its generated migrations safe to apply whoever created the table first, and keeps the
 * table when the app stops listing it. Needs no database.
 */
export function registerGuardMigrations(program: Command, run: CliRun): void {
  program
    .command("guard-migrations")
    .argument("[folder]", "the app's drizzle-kit migrations folder (its `out`)", "./drizzle")
    .description("make an app's generated migrations create the workflow_store table only if absent and never drop it")
    .action(async (folder: string) => {
      let files: string[];
      try {
        files = (await readdir(resolve(run.io.cwd, folder))).filter((file) => file.endsWith(".sql")).sort();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") throw new CommandFailure(EXIT_CODES.USAGE, `no migrations folder at ${folder}`);
        if (code === "ENOTDIR") throw new CommandFailure(EXIT_CODES.USAGE, `${folder} is not a folder`);
        throw new CommandFailure(
          EXIT_CODES.ERROR,
          `cannot read the migrations folder ${folder}: ${(error as Error).message}`,
        );
      }
      let changed = 0;
      for (const file of files) {
        // Named as the user named the folder; read and written where it is from the run's cwd.
        const path = join(folder, file);
        const where = resolve(run.io.cwd, path);
        const { sql, changes } = guardMigration(await readFile(where, "utf8"));
        if (changes.length === 0) continue;
        await writeFile(where, sql);
        changed++;
        for (const change of changes) await run.printLine(`${path}: ${change.before} -> ${change.after}`);
      }
      if (changed === 0) await run.printLine(`nothing to change in ${folder}`);
    });
}
