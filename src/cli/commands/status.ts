import type { Command } from "commander";
import { migrationStatus } from "../../index.js";
import { describeTarget, globalOptions, notCreatedYet, targetOf, withConnection } from "../connection.js";
import type { CliRun } from "../output.js";

/** `status`: each migration applied or pending, the journal, and whether the table exists. */
export function registerStatus(program: Command, run: CliRun): void {
  program
    .command("status")
    .description("list each migration as applied or pending, the journal and whether the table exists")
    .action(async (_options: unknown, command: Command) => {
      const globals = globalOptions(command);
      const target = targetOf(globals, run.io);
      if (notCreatedYet(target)) {
        // Looking creates nothing: `migrate` and the data commands create the directory.
        await run.printLine(
          `database  ${describeTarget(target)}: not created yet (migrate or a data command creates it)`,
        );
        return;
      }
      await withConnection(run, globals, async (connection) => {
        const status = await migrationStatus(connection.db, { schema: globals.schema });
        await run.printLine(`database  ${connection.label}`);
        await run.printLine(`journal   ${status.journal}`);
        await run.printLine(`table     ${status.schema}.workflow_store ${status.tableExists ? "exists" : "missing"}`);
        for (const migration of status.migrations) {
          await run.printLine(`${migration.applied ? "applied" : "pending"}   ${migration.tag}`);
        }
        if (!status.tableExists && status.migrations.some((migration) => migration.applied)) {
          run.note(
            `warning: ${status.journal} records migrations as applied, but the workflow_store table is missing: ` +
              "run `workflow-store migrate` to re-create it",
          );
        }
      });
    });
}
