import type { Command } from "commander";
import { checkKey } from "../../index.js";
import { globalOptions, withStore } from "../connection.js";
import type { CliRun } from "../output.js";

/** Everything a stream gives, as one Buffer: the exact bytes `set … -` reads from stdin. */
async function readAll(input: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** `set <prefix> <key> <value|->`: writes a value, from the argument or, with `-`, from stdin. */
export function registerSet(program: Command, run: CliRun): void {
  program
    .command("set")
    .description("write a value, replacing any earlier one")
    .argument("<prefix>", "the key's prefix")
    .argument("<key>", "the key")
    .argument("<value>", 'the value as UTF-8 text, or "-" to read the exact bytes from stdin')
    .action(async (prefix: string, key: string, value: string, _options: unknown, command: Command) => {
      checkKey("set", prefix, key);
      // Read before connecting, so a slow writer on the pipe holds no connection open.
      const bytes = value === "-" ? await readAll(run.io.stdin) : Buffer.from(value, "utf8");
      await withStore(run, globalOptions(command), (store) => store.set(prefix, key, bytes));
    });
}
