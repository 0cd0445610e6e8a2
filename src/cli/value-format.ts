import { CommandFailure, EXIT_CODES } from "./exit-codes.js";

/** How `get` prints a value. */
export const VALUE_FORMATS = ["utf8", "hex", "base64", "json", "raw"] as const;

/** One of {@link VALUE_FORMATS}. */
export type ValueFormat = (typeof VALUE_FORMATS)[number];

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function parseJson(value: Buffer): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(value);
  } catch {
    throw new CommandFailure(EXIT_CODES.ERROR, "the value is not JSON: it is not valid UTF-8 (try --format hex)");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CommandFailure(
      EXIT_CODES.ERROR,
      `the value is not JSON: ${(error as Error).message} (try --format utf8)`,
    );
  }
}

/**
 * The bytes `get` writes for a value: `raw` the value itself, the others a line of text (`utf8`
 * shows bytes that are not UTF-8 as U+FFFD, `json` pretty-prints and fails on anything not JSON).
 */
export function formatValue(value: Buffer, format: ValueFormat): Uint8Array | string {
  switch (format) {
    case "raw":
      return value;
    case "utf8":
      return `${value.toString("utf8")}\n`;
    case "hex":
      return `${value.toString("hex")}\n`;
    case "base64":
      return `${value.toString("base64")}\n`;
    case "json":
      return `${JSON.stringify(parseJson(value), null, 2)}\n`;
  }
}
