import { type Command, Option } from "commander";
import { checkKey } from "../../index.js";
import { globalOptions, withStore } from "../connection.js";
import { CommandFailure, EXIT_CODES } from "../exit-codes.js";
import type { CliRun } from "../output.js";
import { formatValue, VALUE_FORMATS, type ValueFormat } from "../value-format.js";

/** `get <prefix> <key> [--format …]`: prints a value; exit 3 when there is none. */
export function registerGet(program: Command, run: CliRun): void {
  program
    .command("get")
    .description("print the value of a key")
    .argument("<prefix>", "the key's prefix")
    .argument("<key>", "the key")
    .addOption(
      new Option(
        "--format <format>",
        "utf8 (text), hex, base64, json (pretty-printed; fails if the value is not JSON) or raw (the exact bytes)",
      )
        .choices(VALUE_FORMATS)
        .default("utf8"),
    )
    .action(async (prefix: string, key: string, options: { format: ValueFormat }, command: Command) => {
      checkKey("get", prefix, key);
      await withStore(run, globalOptions(command), async (store) => {
        const value = await store.get(prefix, key);
        if (value === null) {
          throw new CommandFailure(
            EXIT_CODES.NOT_FOUND,
            `no key ${JSON.stringify(key)} in prefix ${JSON.stringify(prefix)}`,
          );
        }
        await run.print(formatValue(value, options.format));
      });
    });
}
