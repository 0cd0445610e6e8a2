import type { Command } from "commander";
import { checkKey } from "../../index.js";
import { globalOptions, withStore } from "../connection.js";
import { CommandFailure, EXIT_CODES } from "../exit-codes.js";
import type { CliRun } from "../output.js";

/** `rm <prefix> <key>`: deletes a key; exit 3 when there was none. */
export function registerRm(program: Command, run: CliRun): void {
  program
    .command("rm")
    .description("delete a key")
    .argument("<prefix>", "the key's prefix")
    .argument("<key>", "the key")
    .action(async (prefix: string, key: string, _options: unknown, command: Command) => {
      checkKey("remove", prefix, key);
      await withStore(run, globalOptions(command), async (store) => {
        if ((await store.removeMany(prefix, [key])) === 0) {
          throw new CommandFailure(
            EXIT_CODES.NOT_FOUND,
            `no key ${JSON.stringify(key)} in prefix ${JSON.stringify(prefix)}`,
          );
        }
      });
    });
}
