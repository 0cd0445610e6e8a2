import { type AnyPgDatabase, type Connection, type WorkflowStoreTable, workflowStoreTable } from "../index.js";
import { CommandFailure, EXIT_CODES } from "./exit-codes.js";

/** The driver's own message: Drizzle's wrapper repeats the SQL and its parameters, which are no use to a reader. */
function driverMessage(error: unknown): string {
  let current: unknown = error;
  let message = String(error);
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return `${current.message} [${code}]`;
    message = current.message;
    current = current.cause;
  }
  return message;
}

/**
 * Runs a query of the CLI's own (one the store has no method for) on the table of `schema`. Run it
 * after creating the store, whose creation already reports a missing table.
 */
export async function queryTable<T>(
  connection: Connection,
  schema: string,
  query: (db: AnyPgDatabase, table: WorkflowStoreTable) => Promise<T>,
): Promise<T> {
  try {
    return await query(connection.db, workflowStoreTable(schema));
  } catch (error) {
    throw new CommandFailure(EXIT_CODES.ERROR, `query failed: ${driverMessage(error)}`);
  }
}
