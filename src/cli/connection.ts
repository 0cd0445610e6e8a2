import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import {
  type Connection,
  configFromEnv,
  connectPostgres,
  createStoreWithDb,
  migrationStatus,
  type PostgresConfig,
  parseDsn,
  type Store,
  StoreError,
} from "../index.js";
import { CommandFailure, EXIT_CODES } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import type { CliRun } from "./output.js";

/** The options every command takes. */
interface GlobalOptions {
  url?: string;
  dataDir: string;
  schema: string;
  /** A standby that listings may read from (`--replica`). */
  replica?: string;
  /** Whether `--data-dir` was given, rather than its default. */
  dataDirGiven: boolean;
}

/** The embedded store's directory when `--data-dir` is not given. */
export const DEFAULT_DATA_DIR = "./.workflow-store";

/** Where the commands connect, as `--help` shows it after every command's own help. */
export const CONNECTION_HELP = `
Connection: --url, else DATABASE_URL, else POSTGRES_HOST/PORT/USER/PASSWORD/DB when any is set,
else the embedded store in --data-dir (created and migrated on first use). A URL without a
password uses PGPASSWORD, then ~/.pgpass (or PGPASSFILE), as psql does.`;

const POSTGRES_VARIABLES = ["POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"];

/** The database the options and the environment name, before anything is opened. */
type Target =
  | { kind: "server"; config: PostgresConfig; from: string }
  | { kind: "embedded"; dataDir: string; chosen: "given" | "default" };

/** The global options as commander parsed them for `command`. */
export function globalOptions(command: Command): GlobalOptions {
  return {
    ...command.optsWithGlobals<Omit<GlobalOptions, "dataDirGiven">>(),
    dataDirGiven: command.getOptionValueSourceWithGlobals("dataDir") !== "default",
  };
}

/**
 * The database the options name: `--url`, else `DATABASE_URL`, else the `POSTGRES_*` variables when
 * any is set, else the embedded store in `--data-dir`. Throws `CONFIG` for settings that do not parse.
 */
export function targetOf(options: GlobalOptions, { env, cwd }: Pick<CliIo, "env" | "cwd">): Target {
  if (options.url !== undefined) return { kind: "server", config: parseDsn(options.url), from: "--url" };
  if (env.DATABASE_URL) return { kind: "server", config: parseDsn(env.DATABASE_URL), from: "DATABASE_URL" };
  if (POSTGRES_VARIABLES.some((name) => env[name])) {
    return { kind: "server", config: configFromEnv(env), from: "the POSTGRES_* variables" };
  }
  return {
    kind: "embedded",
    dataDir: resolve(cwd, options.dataDir),
    chosen: options.dataDirGiven ? "given" : "default",
  };
}

/** The target in a line for people: which store a command used, never with a password. */
export function describeTarget(target: Target): string {
  if (target.kind === "server") {
    const { user, host, port, database } = target.config;
    return `PostgreSQL ${user}@${host}:${port}/${database} (from ${target.from})`;
  }
  return target.chosen === "given"
    ? `the embedded store in ${target.dataDir} (--data-dir)`
    : `the embedded store in ${target.dataDir} (no --url, DATABASE_URL or POSTGRES_* variable names a PostgreSQL server)`;
}

/**
 * Opens the target. The embedded store is said so on stderr when it is new, or when nothing chose
 * it but the absence of a server's settings: a deploy step that lost its DATABASE_URL would
 * otherwise migrate and write a local directory and exit 0.
 */
async function open(run: CliRun, target: Target): Promise<Connection> {
  if (target.kind === "server") return connectPostgres(target.config);
  const created = notCreatedYet(target);
  const connection = await run.io.connectEmbedded({ dataDir: target.dataDir });
  if (created || target.chosen === "default") {
    run.note(`${created ? "created" : "using"} ${describeTarget(target)}`);
    run.targetAnnounced = true;
  }
  return connection;
}

/** Whether the embedded store the target names has not been created yet. */
export function notCreatedYet(target: Target): boolean {
  return target.kind === "embedded" && !existsSync(join(target.dataDir, "PG_VERSION"));
}

/** Where a listing command reads: the `--replica` standby when one is given. */
export function consistencyOf(options: GlobalOptions): { consistency: "primary" | "replica" } {
  return { consistency: options.replica === undefined ? "primary" : "replica" };
}

/** Runs `work` on the database the options name, and closes it afterwards, also when `work` fails. */
export async function withConnection<T>(
  run: CliRun,
  options: GlobalOptions,
  work: (connection: Connection, target: Target) => Promise<T>,
): Promise<T> {
  const target = targetOf(options, run.io);
  const connection = await open(run, target);
  try {
    return await work(connection, target);
  } finally {
    await connection.close();
  }
}

/**
 * Runs `work` with a store on the database the options name. An embedded directory is the user's
 * own and is migrated on first use; a server is never migrated unasked: a command on a database
 * its migrations have not reached says to run `workflow-store migrate`.
 */
export function withStore<T>(
  run: CliRun,
  options: GlobalOptions,
  work: (store: Store, connection: Connection, target: Target) => Promise<T>,
): Promise<T> {
  return withConnection(run, options, async (connection, target) => {
    const store = await createStoreWithDb(connection.db, {
      autoMigrate: target.kind === "embedded",
      schema: options.schema,
      ...(options.replica !== undefined && { readReplicas: [options.replica] }),
    }).catch(async (error: unknown) => {
      throw error instanceof StoreError && error.code === "SCHEMA"
        ? await notMigrated(connection, options.schema, error)
        : error;
    });
    try {
      return await work(store, connection, target);
    } finally {
      await store.close();
    }
  });
}

/** What a data command says on a server whose table or migrations are missing. */
async function notMigrated(connection: Connection, schema: string, error: StoreError): Promise<Error> {
  const { tableExists, pending } = await migrationStatus(connection.db, { schema });
  const tags = pending.map((migration) => migration.tag).join(", ");
  if (tableExists && pending.length === 0) return error;
  const missing = !tableExists
    ? `there is no workflow_store table in schema ${schema}`
    : `migration${pending.length === 1 ? ` ${tags} is` : `s ${tags} are`} pending`;
  return new CommandFailure(EXIT_CODES.ERROR, `${missing}: run \`workflow-store migrate\` first`);
}
