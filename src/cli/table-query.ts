import {
  type AnyPgDatabase,
  type Connection,
  translateError,
  type WorkflowStoreTable,
  workflowStoreTable,
} from "../index.js";

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
    throw translateError(error, { op: "query" });
  }
}
