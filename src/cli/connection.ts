import type { Command } from "commander";
import {
  type Connection,
  configFromEnv,
  connectEmbedded,
  connectPostgres,
  createStoreWithDb,
  type Store,
  StoreError,
} from "../index.js";

/** The options every command takes. */
export interface GlobalOptions {
  url?: string;
  dataDir: string;
  schema: string;
}

/** The embedded store's directory when `--data-dir` is not given. */
export const DEFAULT_DATA_DIR = "./.workflow-store";
/** The PostgreSQL schema of the table when `--schema` is not given. */
export const DEFAULT_SCHEMA = "public";

/** Where the commands connect, as `--help` shows it after every command's own help. */
export const CONNECTION_HELP = `
Connection: --url, else DATABASE_URL, else POSTGRES_HOST/PORT/USER/PASSWORD/DB when any is set,
else the embedded store in --data-dir.`;

const POSTGRES_VARIABLES = ["POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"];

/** The global options as commander parsed them for `command`. */
export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/**
 * Opens the database the options and the environment name: `--url`, else `DATABASE_URL`, else the
 * `POSTGRES_*` variables when any is set, else the embedded store in `--data-dir`.
 */
export function openConnection(
  options: GlobalOptions,
  env: Record<string, string | undefined> = process.env,
): Promise<Connection> {
  if (options.url !== undefined) return connectPostgres(options.url);
  if (env.DATABASE_URL) return connectPostgres(env.DATABASE_URL);
  if (POSTGRES_VARIABLES.some((name) => env[name])) return connectPostgres(configFromEnv(env));
  return connectEmbedded({ dataDir: options.dataDir }).catch((error: unknown) => {
    // Most likely a server was meant: say why the embedded store was chosen.
    if (error instanceof StoreError && error.code === "CONFIG") {
      throw new StoreError(
        "CONFIG",
        { op: "config" },
        `no --url, DATABASE_URL or POSTGRES_* names a PostgreSQL server, so the embedded store in ${options.dataDir} ` +
          `was chosen, and ${error.message.replace(/^workflow store config: connectEmbedded /, "it ")}`,
        { cause: error },
      );
    }
    throw error;
  });
}

/** Runs `work` on the database the options name, and closes it afterwards, also when `work` fails. */
export async function withConnection<T>(
  options: GlobalOptions,
  work: (connection: Connection) => Promise<T>,
): Promise<T> {
  const connection = await openConnection(options);
  try {
    return await work(connection);
  } finally {
    await connection.close();
  }
}

/**
 * Runs `work` with a store on the database the options name. The store never migrates: when the
 * table is missing its own error says to run `workflow-store migrate`.
 */
export function withStore<T>(
  options: GlobalOptions,
  work: (store: Store, connection: Connection) => Promise<T>,
): Promise<T> {
  return withConnection(options, async (connection) => {
    const store = await createStoreWithDb(connection.db, { autoMigrate: false, schema: options.schema });
    try {
      return await work(store, connection);
    } finally {
      await store.close();
    }
  });
}
