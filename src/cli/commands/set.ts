import type { Command } from "commander";
import { checkKey } from "../../index.js";
import { globalOptions, withStore } from "../connection.js";

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `set <prefix> <key> <value|->`: writes a value, from the argument or, with `-`, from stdin. */
export function registerSet(program: Command): void {
  program
    .command("set")
    .description("write a value, replacing any earlier one")
    .argument("<prefix>", "the key's prefix")
    .argument("<key>", "the key")
    .argument("<value>", 'the value as UTF-8 text, or "-" to read the exact bytes from stdin')
    .action(async (prefix: string, key: string, value: string, _options: unknown, command: Command) => {
      checkKey("set", prefix, key);
      // Read before connecting, so a slow writer on the pipe holds no connection open.
      const bytes = value === "-" ? await readStdin() : Buffer.from(value, "utf8");
      await withStore(globalOptions(command), (store) => store.set(prefix, key, bytes));
    });
}
