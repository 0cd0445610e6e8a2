import postgres from "postgres";

/** The bench's own database on the server: created at the start, dropped at the end. */
export const BENCH_DATABASE = "workflow_store_bench";

export interface BenchDatabase {
  url: string;
  serverVersion: string;
  drop(): Promise<void>;
}

async function asAdmin<T>(adminUrl: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

/**
 * Creates the bench's database afresh (dropping one a killed run left), with an ICU collation as
 * most servers have one that is not C, so that the byte order the store keeps costs what it costs.
 */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const serverVersion = await asAdmin(adminUrl, async (sql) => {
    await sql.unsafe(`drop database if exists "${BENCH_DATABASE}" with (force)`);
    await sql.unsafe(
      `create database "${BENCH_DATABASE}" template template0 encoding 'UTF8' locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'`,
    );
    const [row] = await sql<{ server_version: string }[]>`show server_version`;
    return row?.server_version ?? "unknown";
  });
  const url = new URL(adminUrl);
  url.pathname = `/${BENCH_DATABASE}`;
  return {
    url: url.toString(),
    serverVersion,
    drop: () =>
      asAdmin(adminUrl, (sql) => sql.unsafe(`drop database if exists "${BENCH_DATABASE}" with (force)`)).then(() => {}),
  };
}
