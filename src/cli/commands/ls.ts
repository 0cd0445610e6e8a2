import type { Command } from "commander";
import { and, eq, sql } from "drizzle-orm";
import { type Connection, checkKey, checkPrefix } from "../../index.js";
import { positiveInteger } from "../arguments.js";
import { globalOptions, withStore } from "../connection.js";
import { type CliRun, field } from "../output.js";
import { queryTable } from "../table-query.js";

/** Rows per query, so that a prefix of any size is listed in bounded memory. */
const PAGE_SIZE = 1000;

interface Listed {
  key: string;
  size: number;
  updatedAt: Date | null;
}

/** One page of a prefix's keys in byte order, with each value's size but not the value. */
function listPage(connection: Connection, schema: string, prefix: string, after: string | undefined, limit: number) {
  return queryTable(connection, schema, (db, table) => {
    const keyInByteOrder = sql`${table.key} collate "C"`;
    return db
      .select({
        key: table.key,
        size: sql<number>`coalesce(octet_length(${table.value}), 0)`.mapWith(Number),
        // Rows written by the original store may lack a timestamp.
        updatedAt: sql<Date | null>`coalesce(${table.updatedAt}, ${table.createdAt})`.mapWith(table.updatedAt),
      })
      .from(table)
      .where(and(eq(table.prefix, prefix), after === undefined ? undefined : sql`${keyInByteOrder} > ${after}`))
      .orderBy(keyInByteOrder)
      .limit(limit);
  });
}

/** Every row from `after` on, `limit` at most, a page at a time. */
async function* listRows(
  connection: Connection,
  schema: string,
  prefix: string,
  after: string | undefined,
  limit: number,
): AsyncGenerator<Listed> {
  let left = limit;
  let last = after;
  while (left > 0) {
    const page = await listPage(connection, schema, prefix, last, Math.min(left, PAGE_SIZE));
    yield* page;
    left -= page.length;
    if (page.length < PAGE_SIZE) return;
    last = page[page.length - 1]?.key;
  }
}

/** `ls <prefix> [--json] [--after KEY] [--limit N]`: keys with their sizes and update times. */
export function registerLs(program: Command, run: CliRun): void {
  program
    .command("ls")
    .description(
      "list a prefix's keys in byte order: key, size in bytes and updated_at (UTC), tab-separated, one per line",
    )
    .argument("<prefix>", "the prefix")
    .option("--json", "print one JSON object {key, size, updatedAt} per line instead")
    .option("--after <key>", "start after this key (exclusive): pass the last key of a page to get the next")
    .option("--limit <n>", "list at most this many keys", positiveInteger)
    .action(async (prefix: string, options: { json?: boolean; after?: string; limit?: number }, command: Command) => {
      checkPrefix("keys", prefix);
      if (options.after !== undefined) checkKey("keys", prefix, options.after);
      const globals = globalOptions(command);
      await withStore(run, globals, async (_store, connection) => {
        for await (const row of listRows(
          connection,
          globals.schema,
          prefix,
          options.after,
          options.limit ?? Infinity,
        )) {
          const updatedAt = row.updatedAt?.toISOString() ?? null;
          await run.printLine(
            options.json
              ? JSON.stringify({ key: row.key, size: row.size, updatedAt })
              : `${field(row.key)}\t${row.size}\t${updatedAt ?? "-"}`,
          );
        }
      });
    });
}
