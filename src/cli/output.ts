import { once } from "node:events";
import type { CliIo } from "./io.js";

/** One run of the command line: where it writes, and what it has said so far. */
export class CliRun {
  /** Whether this run already said on stderr which store it uses, so that a failure need not repeat it. */
  targetAnnounced = false;

  constructor(readonly io: CliIo) {}

  /**
   * Writes to stdout and waits when the pipe is full, so that a long listing piped into a slow
   * reader does not pile up in memory.
   */
  async print(chunk: string | Uint8Array): Promise<void> {
    if (!this.io.stdout.write(chunk)) await once(this.io.stdout, "drain");
  }

  /** A line to stdout. */
  printLine(line: string): Promise<void> {
    return this.print(`${line}\n`);
  }

  /** A line to stderr: notes, warnings and progress, which are not the command's output. */
  note(line: string): void {
    this.io.stderr.write(`workflow-store: ${line}\n`);
  }
}

/** A count of rows in words: `1 row`, `2 rows`. */
export function rows(count: number): string {
  return `${count} row${count === 1 ? "" : "s"}`;
}

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/**
 * A key or prefix as a field of tab-separated output: a backslash, tab, newline or carriage return
 * is written `\\`, `\t`, `\n`, `\r`, as PostgreSQL's COPY text format writes them, so that every
 * line splits into its fields. `--json` gives them exactly.
 */
export function field(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (char) => ESCAPES[char] ?? char);
}
