import type { Command } from "commander";
import { checkPrefix } from "../../index.js";
import { consistencyOf, globalOptions, withStore } from "../connection.js";
import type { CliRun } from "../output.js";

/** `count <prefix>`: how many keys a prefix has. */
export function registerCount(program: Command, run: CliRun): void {
  program
    .command("count")
    .description("print how many keys a prefix has")
    .argument("<prefix>", "the prefix")
    .action(async (prefix: string, _options: unknown, command: Command) => {
      checkPrefix("count", prefix);
      const globals = globalOptions(command);
      await withStore(run, globals, async (store) => {
        await run.printLine(String(await store.count(prefix, consistencyOf(globals))));
      });
    });
}
