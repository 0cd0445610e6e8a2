import type { PGlite, QueryOptions } from "@electric-sql/pglite";

/**
 * How Drizzle reads these types (as the text PostgreSQL sends). Drizzle passes this table with
 * every query, and PGlite then copies its whole parser table (over 300 entries) on every call;
 * registered once on the client, it need not be passed.
 */
const TEXT_AS_IS = [
  1114, // timestamp
  1184, // timestamptz
  1186, // interval
  1082, // date
  1231, // numeric[]
  1115, // timestamp[]
  1185, // timestamptz[]
  1187, // interval[]
  1182, // date[]
];

/** Rows written since the last ANALYZE after which the statistics are taken again (at least). */
const FIRST_ANALYZE_AFTER = 1000;

/**
 * Analyzes the database's own tables, or only those never analyzed, in one statement (so that it
 * is queued before whatever the caller sends next).
 */
function analyzeTables(client: PGlite, neverAnalyzed: boolean) {
  return client.exec(`do $$
    declare tables text;
    begin
      select string_agg(oid::regclass::text, ', ') into tables from pg_catalog.pg_class
      where relkind in ('r', 'p') and relpersistence = 'p'
        and relnamespace::regnamespace::text not in ('pg_catalog', 'information_schema')
        ${neverAnalyzed ? "and reltuples < 0" : ""};
      if tables is not null then execute 'analyze ' || tables; end if;
    end $$`);
}

/**
 * Takes the statistics of tables that have none: a data directory written before this package
 * analyzed its tables, or by PGlite alone, would otherwise keep its planner guessing.
 */
export async function analyzeNeverAnalyzed(client: PGlite): Promise<void> {
  await analyzeTables(client, true);
}

/**
 * PGlite has no autovacuum, so its planner never learns how many rows a table or a prefix holds,
 * and sorts a whole prefix to page through it where the index gives the order. Like autovacuum,
 * this takes the statistics again once enough rows changed: after 1,000 rows, then each time as
 * many rows again as in all the analyses before, so a growing database is analyzed a logarithmic
 * number of times. ANALYZE reads a bounded sample of each table, a few tens of milliseconds.
 */
function autoAnalyze(client: PGlite) {
  let changed = 0;
  let threshold = FIRST_ANALYZE_AFTER;
  let running: Promise<void> | undefined;
  return {
    /** Counts rows a committed statement or transaction changed; analyzes when there are enough. */
    changed(rows: number) {
      changed += rows;
      if (changed < threshold || running !== undefined || client.closed) return;
      threshold = Math.max(FIRST_ANALYZE_AFTER, changed + threshold);
      changed = 0;
      // In the background: statistics are a hint, and a write never waits for them. A failure
      // (the client closed meanwhile) only means no new statistics.
      running = analyzeTables(client, false)
        .then(() => {})
        .catch(() => {})
        .finally(() => {
          running = undefined;
        });
    },
  };
}

function withoutParsers(options: QueryOptions | undefined): QueryOptions | undefined {
  if (options?.parsers === undefined) return options;
  const { parsers: _, ...rest } = options;
  return rest;
}

type Query = PGlite["query"];

/** `target` with its `query` (and `transaction`, when given) replaced; the rest is its own. */
function replacing<T extends object>(target: T, query: Query, transaction?: PGlite["transaction"]): T {
  return new Proxy(target, {
    get(object, property) {
      if (property === "query") return query;
      if (property === "transaction" && transaction !== undefined) return transaction;
      const value: unknown = Reflect.get(object, property, object);
      // PGlite's methods use private fields, which a proxy as `this` does not have.
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

/**
 * The PGlite client as the embedded store's Drizzle database gets it: the parsers Drizzle asks for
 * are registered once, instead of with each query, and the tables are analyzed as they grow.
 * Everything else is PGlite's own.
 */
export function drizzleReadyClient(client: PGlite): PGlite {
  for (const type of TEXT_AS_IS) client.parsers[type] = (value) => value;
  const statistics = autoAnalyze(client);
  const counted =
    (run: Query, count: (rows: number) => void): Query =>
    async <T>(text: string, params?: unknown[], options?: QueryOptions) => {
      const result = await run<T>(text, params, withoutParsers(options));
      count(result.affectedRows ?? 0);
      return result;
    };
  const transaction: PGlite["transaction"] = async (work) => {
    let changed = 0;
    const result = await client.transaction((tx) =>
      work(
        replacing(
          tx,
          counted(tx.query, (rows) => {
            changed += rows;
          }),
        ),
      ),
    );
    // Only what a committed transaction changed counts, after it is over.
    statistics.changed(changed);
    return result;
  };
  return replacing(client, counted(client.query.bind(client), statistics.changed), transaction);
}
