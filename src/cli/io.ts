import type { EventEmitter } from "node:events";
import { type Connection, connectEmbedded } from "../index.js";

/** A stream the command line writes to: its stdout or stderr. */
export interface OutputStream extends NodeJS.WritableStream {
  /** Whether it is a terminal: stderr then shows purge's progress bar, and help fits its width. */
  isTTY?: boolean;
  /** Its width in columns, when it is a terminal. */
  columns?: number;
  /** Whether the terminal shows colours. */
  hasColors?(): boolean;
}

/**
 * Everything one run of `workflow-store` reads and writes besides the database: main.ts passes the
 * process's own; a test passes streams, an environment and signals of its own, and runs the
 * command line in its own process.
 */
export interface CliIo {
  /** The arguments after the program's name, as `process.argv.slice(2)` holds them. */
  args: readonly string[];
  /** The environment: DATABASE_URL, the POSTGRES_* variables, NO_COLOR, … */
  env: Readonly<Record<string, string | undefined>>;
  /** The directory that relative paths (`--data-dir`, a migrations folder) are in. */
  cwd: string;
  /** What `set … -` reads. */
  stdin: AsyncIterable<Uint8Array | string>;
  /** The commands' output. */
  stdout: OutputStream;
  /** Errors, notes and progress. */
  stderr: OutputStream;
  /** Where SIGINT (Ctrl-C) and SIGTERM come from, which end a `watch`. */
  signals: Pick<EventEmitter, "once" | "off">;
  /** Names the running command, as `ps` shows it and an embedded data directory's lock names its holder. */
  setTitle(title: string): void;
  /**
   * Opens an embedded data directory, when no PostgreSQL server is named: `connectEmbedded`. A
   * caller that runs many commands on one directory may keep it open across runs instead, and
   * give each run a connection whose close leaves it open.
   */
  connectEmbedded(options: { dataDir: string }): Promise<Connection>;
}

/** The process's own arguments, environment, streams and signals. */
export function processIo(): CliIo {
  return {
    args: process.argv.slice(2),
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    signals: process,
    setTitle: (title) => {
      process.title = title;
    },
    connectEmbedded,
  };
}

/**
 * Whether output to `stream` may have colours, by the conventions commander follows: NO_COLOR and
 * FORCE_COLOR=0 say no, FORCE_COLOR and CLICOLOR_FORCE yes, else a terminal that shows them.
 */
export function hasColors(env: CliIo["env"], stream: OutputStream): boolean {
  if (env.NO_COLOR || env.FORCE_COLOR === "0" || env.FORCE_COLOR === "false") return false;
  if (env.FORCE_COLOR || env.CLICOLOR_FORCE !== undefined) return true;
  return Boolean(stream.isTTY && stream.hasColors?.());
}
