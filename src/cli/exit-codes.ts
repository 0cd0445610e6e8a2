import { StoreError } from "../index.js";

/** The exit codes of `workflow-store`, as its `--help` lists them. */
export const EXIT_CODES = Object.freeze({
  /** The command did what it was asked. */
  OK: 0,
  /** Anything else went wrong: the database refused a query, a value is not JSON, … */
  ERROR: 1,
  /** The command line is wrong: unknown option, missing argument, bad value, invalid connection settings. */
  USAGE: 2,
  /** `get` or `rm` found no such key. */
  NOT_FOUND: 3,
  /** The database could not be reached or refused the login. */
  CONNECTION: 4,
} as const);

/** One of {@link EXIT_CODES}. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The exit codes as `--help` shows them after every command's own help. */
export const EXIT_CODES_HELP = `
Exit codes:
  ${EXIT_CODES.OK}  success
  ${EXIT_CODES.ERROR}  other error
  ${EXIT_CODES.USAGE}  usage error (unknown option, missing or invalid argument, invalid connection settings,
     driver not installed)
  ${EXIT_CODES.NOT_FOUND}  not found (get, rm)
  ${EXIT_CODES.CONNECTION}  connection error (database unreachable or login refused)`;

/** A failure a command reports itself: its message goes to stderr as it is, and the process exits with `exitCode`. */
export class CommandFailure extends Error {
  override readonly name = "CommandFailure";
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The exit code an error means. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CommandFailure) return error.exitCode;
  if (!(error instanceof StoreError)) return EXIT_CODES.ERROR;
  switch (error.code) {
    case "CONNECTION":
      return EXIT_CODES.CONNECTION;
    case "CONFIG":
    case "INVALID_ARGUMENT":
      return EXIT_CODES.USAGE;
    default:
      return EXIT_CODES.ERROR;
  }
}
