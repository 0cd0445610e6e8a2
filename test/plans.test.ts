import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { fillPlaceholders, sql } from "drizzle-orm";
import { drizzle as pgliteDrizzle } from "drizzle-orm/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drizzleReadyClient } from "../src/drivers/pglite/client.js";
import { connectEmbedded, migrate } from "../src/index.js";
import { type PreparedQueries, prepareQueries } from "../src/postgres/statements/prepare.js";
import { DEFAULT_SCHEMA } from "../src/schema.js";
import { copyNewDataDir, newPgliteInMemory } from "./support/pglite-template.js";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";

/** The store's statements as a store on the plain table (not partitioned) writes them. */
const PLAIN = { schema: DEFAULT_SCHEMA, prepare: true, partitioned: false };

/** Runs SQL with bound parameters and returns the rows. */
type Run = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** Values for the store's placeholders: a prefix of many keys, a page from the middle. */
const values = { prefix: "/big", key: "k05000", after: "k05000", limit: 1000, maxBytes: 1024, keys: ["k1", "k2"] };

/** The planner's row count of the table: -1 until it is analyzed. */
const STATISTICS = "select reltuples::float8 as n from pg_class where oid = 'workflow_store'::regclass";

/** A prefix written after the statistics were taken, as a new run's is. */
const UNSEEN = `
  insert into workflow_store (prefix, key, value)
  select '/unseen', 'k' || lpad(g::text, 5, '0'), '\\x00'::bytea from generate_series(1, 4000) g`;

/** The statements whose plan must be an index scan with no sort, whatever the prefix's size. */
const statements: (keyof PreparedQueries)[] = [
  "get",
  "has",
  "remove",
  "getMany",
  "count",
  "keysFirst",
  "keysAfter",
  "entriesFirst",
  "entriesAfter",
];

/** 10,000 keys in one prefix and 90,000 in ten others: few prefixes, all in the planner's statistics. */
const FILL = `
  insert into workflow_store (prefix, key, value)
  select '/big', 'k' || lpad(g::text, 5, '0'), '\\x00'::bytea from generate_series(1, 10000) g
  union all
  select '/small/' || (g % 10), 'k' || g, '\\x00'::bytea from generate_series(1, 90000) g`;

async function plan(run: Run, queries: PreparedQueries, name: keyof PreparedQueries): Promise<string> {
  const query = queries[name].getQuery();
  const rows = await run(`explain (costs off) ${query.sql}`, fillPlaceholders(query.params, values));
  return rows.map((row) => String(Object.values(row)[0])).join("\n");
}

/**
 * Checks every statement's plan twice: as planned for the values at hand, and as the generic plan
 * a prepared statement switches to after a few runs.
 */
function checkPlans(run: () => Run, queries: () => PreparedQueries) {
  for (const mode of ["force_custom_plan", "force_generic_plan"]) {
    it.each(statements)(`%s reads an index and sorts nothing (${mode})`, async (name) => {
      await run()(`set plan_cache_mode = ${mode}`, []);
      const text = await plan(run(), queries(), name);
      expect(text).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
      expect(text).not.toMatch(/Sort|Seq Scan/);
      if (name === "get" || name === "has" || name === "remove") {
        // The key is an index condition, not a filter over the prefix's rows, for a prefix the
        // statistics have never seen (a new run's) too.
        expect(text).not.toMatch(/Filter: .*key/);
        const unseen = queries()[name].getQuery();
        const params = fillPlaceholders(unseen.params, { ...values, prefix: "/unseen" });
        const rows = await run()(`explain (costs off) ${unseen.sql}`, params);
        expect(rows.map((row) => String(Object.values(row)[0])).join("\n")).not.toMatch(/Filter: .*key/);
      }
      if (name.startsWith("keys") || name.startsWith("entries")) {
        // The page is read in byte order from the index: it stops after `limit` rows.
        expect(text).toContain("workflow_store_prefix_key_bytes");
      }
    });
  }
}

describe.skipIf(databaseUrl === null)(`query plans on PostgreSQL${skipReason}`, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let queries: PreparedQueries;
  let run: Run;
  beforeAll(async () => {
    database = await freshDatabase("plans");
    const { client, db } = database.connect();
    await migrate(db);
    await client.unsafe(FILL);
    await client`analyze workflow_store`;
    await client.unsafe(UNSEEN);
    queries = prepareQueries(db, PLAIN);
    run = (text, params) => client.unsafe(text, params as never[]);
  });
  afterAll(() => database?.drop());

  checkPlans(
    () => run,
    () => queries,
  );
});

describe("query plans on PGlite", () => {
  let pg: PGlite;
  let queries: PreparedQueries;
  let run: Run;
  beforeAll(async () => {
    pg = await newPgliteInMemory();
    const db = pgliteDrizzle({ client: drizzleReadyClient(pg) });
    await migrate(db);
    await db.execute(sql.raw(FILL));
    await db.execute(sql.raw(UNSEEN));
    // What the embedded store gives Drizzle: the statistics follow the rows written through it.
    queries = prepareQueries(db, PLAIN);
    run = async (text, params) => (await pg.query<Record<string, unknown>>(text, params)).rows;
  });
  afterAll(() => pg?.close());

  checkPlans(
    () => run,
    () => queries,
  );
});

describe("statistics of an embedded data directory", () => {
  it("are taken when it is opened, for tables that never had any", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "dws-plans-"));
    try {
      // Filled by PGlite alone, as by a version of the package that took no statistics.
      const bare = await PGlite.create(copyNewDataDir(dataDir));
      await migrate(pgliteDrizzle({ client: bare }));
      await bare.exec(FILL);
      const [before] = (await bare.query<{ n: number }>(STATISTICS)).rows;
      expect(before?.n).toBeLessThan(0);
      await bare.close();

      const connection = await connectEmbedded({ dataDir });
      try {
        const client = (connection.db as unknown as { $client: PGlite }).$client;
        const run: Run = async (text, params) => (await client.query<Record<string, unknown>>(text, params)).rows;
        const [after] = await run(STATISTICS, []);
        expect(after?.n).toBeGreaterThan(90_000);
        const text = await plan(run, prepareQueries(connection.db, PLAIN), "keysAfter");
        expect(text).not.toContain("Sort");
      } finally {
        await connection.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
