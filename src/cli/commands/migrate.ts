import type { Command } from "commander";
import { type MigrationInfo, migrate, migrationStatus, partitionTable } from "../../index.js";
import { positiveInteger } from "../arguments.js";
import { globalOptions, withConnection } from "../connection.js";
import type { CliRun } from "../output.js";

async function printSql(run: CliRun, migrations: MigrationInfo[]): Promise<void> {
  for (const migration of migrations) {
    await run.printLine(`-- ${migration.tag}`);
    for (const statement of migration.sql) await run.printLine(statement);
  }
}

/**
 * `migrate [--dry-run] [--partitions N]`: applies the pending migrations, or prints their SQL; with
 * `--partitions`, then makes the table hash-partitioned by prefix (see `partitionTable`).
 */
export function registerMigrate(program: Command, run: CliRun): void {
  program
    .command("migrate")
    .description("apply the migrations the database has not seen (in one transaction, under a lock)")
    .option("--dry-run", "print the pending migrations' SQL and change nothing")
    .option(
      "--partitions <n>",
      "then hash-partition the table by prefix into n partitions (2 to 1024), copying its rows under an exclusive lock; nothing if it already is",
      positiveInteger,
    )
    .action(async (options: { dryRun?: boolean; partitions?: number }, command: Command) => {
      const globals = globalOptions(command);
      await withConnection(run, globals, async (connection) => {
        const target = `${connection.label}, schema ${globals.schema}`;
        if (options.dryRun) {
          const { pending } = await migrationStatus(connection.db, { schema: globals.schema });
          if (pending.length === 0) await run.printLine(`up to date (${target})`);
          else await printSql(run, pending);
          return;
        }
        const applied = await migrate(connection.db, { schema: globals.schema });
        if (applied.length === 0) await run.printLine(`up to date (${target})`);
        for (const migration of applied) await run.printLine(`applied ${migration.tag} (${target})`);
        if (options.partitions === undefined) return;
        const partitioned = await partitionTable(connection.db, {
          partitions: options.partitions,
          schema: globals.schema,
        });
        await run.printLine(
          partitioned.converted
            ? `partitioned by prefix into ${partitioned.partitions}, ${partitioned.rows} rows copied (${target})`
            : `already partitioned by prefix, into ${partitioned.partitions} (${target})`,
        );
      });
    });
}
