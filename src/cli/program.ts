import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { DEFAULT_SCHEMA, StoreError } from "../index.js";
import { registerCount } from "./commands/count.js";
import { registerGet } from "./commands/get.js";
import { registerGuardMigrations } from "./commands/guard-migrations.js";
import { registerLs } from "./commands/ls.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerPurge } from "./commands/purge.js";
import { registerRm } from "./commands/rm.js";
import { registerSet } from "./commands/set.js";
import { registerStats } from "./commands/stats.js";
import { registerStatus } from "./commands/status.js";
import { registerWatch } from "./commands/watch.js";
import { CONNECTION_HELP, DEFAULT_DATA_DIR, describeTarget, globalOptions, targetOf } from "./connection.js";
import { EXIT_CODES, EXIT_CODES_HELP, type ExitCode, exitCodeOf } from "./exit-codes.js";
import { type CliIo, hasColors } from "./io.js";
import { CliRun } from "./output.js";

/** The commands, in the order `--help` lists them. */
const COMMANDS: ((program: Command, run: CliRun) => void)[] = [
  registerMigrate,
  registerStatus,
  registerGet,
  registerSet,
  registerLs,
  registerRm,
  registerCount,
  registerPurge,
  registerWatch,
  registerStats,
  registerGuardMigrations,
];

function packageVersion(): string {
  // dist/cli/ and src/cli/ both sit two levels below package.json.
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return manifest.version;
}

/**
 * The `workflow-store` command line, with every command and the options they all take, for one
 * run: it writes to that run's streams.
 */
function buildProgram(run: CliRun): Command {
  const { io } = run;
  const program = new Command("workflow-store")
    .description("Inspect and maintain a drizzle-workflow-store database: migrations, keys, values, changes, purges.")
    .version(packageVersion())
    .option(
      "--url <url>",
      "PostgreSQL connection string, a postgres:// URL or libpq key=value pairs (default: DATABASE_URL, then POSTGRES_* variables, then the embedded store)",
    )
    .option(
      "--data-dir <dir>",
      "directory of the embedded (PGlite) store, used when no PostgreSQL is named",
      DEFAULT_DATA_DIR,
    )
    .option("--schema <name>", "PostgreSQL schema of the workflow_store table", DEFAULT_SCHEMA)
    .option(
      "--replica <url>",
      "a streaming standby of the server that ls, count and stats read from, the server answering when it is down or over 5 s behind",
    )
    // Settings made before the commands are added are inherited by them.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      getOutHelpWidth: () => (io.stdout.isTTY && io.stdout.columns) || 80,
      getErrHelpWidth: () => (io.stderr.isTTY && io.stderr.columns) || 80,
      getOutHasColors: () => hasColors(io.env, io.stdout),
      getErrHasColors: () => hasColors(io.env, io.stderr),
      outputError: (message, write) => write(`workflow-store: ${message.replace(/^error: /, "")}`),
    })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("afterAll", `${EXIT_CODES_HELP}\n${CONNECTION_HELP}`);
  for (const register of COMMANDS) register(program, run);
  // A usage error names the command it is about, as every other error does.
  for (const command of program.commands) {
    command.configureOutput({
      outputError: (message, write) => write(`workflow-store: ${command.name()}: ${message.replace(/^error: /, "")}`),
    });
  }
  return program;
}

/**
 * The lines that report a failed command on stderr: the command the user typed (not the store
 * call it made) and what went wrong, then, for a command that uses a database, which one.
 */
function failureReport(run: CliRun, error: unknown, command: Command | undefined): string[] {
  const name = command === undefined ? "" : ` ${command.name()}:`;
  const what = error instanceof StoreError ? error.detail : error instanceof Error ? error.message : String(error);
  const lines = [`workflow-store:${name} ${what}`];
  if (command !== undefined && !NO_DATABASE.has(command.name()) && !run.targetAnnounced) {
    try {
      lines.push(`workflow-store: using ${describeTarget(targetOf(globalOptions(command), run.io))}`);
    } catch {
      // Settings that do not parse: the error above says so.
    }
  }
  return lines;
}

/** Commands that open no database. */
const NO_DATABASE = new Set(["guard-migrations"]);

/**
 * Runs the command line `io.args` with the streams, environment and signals of `io`, and resolves
 * with the exit code. Errors are reported on `io.stderr` as `workflow-store: <command>: <message>`,
 * never with a stack. Each call is a run of its own: nothing one run said or set is seen by the next.
 */
export async function runCli(io: CliIo): Promise<ExitCode> {
  const run = new CliRun(io);
  let running: Command | undefined;
  const program = buildProgram(run).hook("preAction", (_program, command) => {
    running = command;
    // What `ps` shows, and what an embedded data directory's lock names to a process it turns away.
    io.setTitle(`workflow-store ${command.name()}`);
  });
  try {
    await program.parseAsync(io.args, { from: "user" });
    return EXIT_CODES.OK;
  } catch (error) {
    // Commander has already printed its message, or the help and version it was asked for.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_CODES.OK : EXIT_CODES.USAGE;
    for (const line of failureReport(run, error, running)) io.stderr.write(`${line}\n`);
    return exitCodeOf(error);
  }
}
