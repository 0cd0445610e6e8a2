import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AnyPgDatabase,
  connectPostgres,
  createPostgresStore,
  createStoreWithDb,
  migrate,
  partitionTable,
} from "../src/index.js";
import { collect, expectStoreError, freshPrefix, storeConformance } from "../src/testing/index.js";
import { cli } from "./support/cli.js";
import { createTestDatabase } from "./support/global-setup.js";
import { GO_STORE_DDL, goStore } from "./support/go-store.js";
import { databaseUrl, skipReason } from "./support/postgres.js";

const PARTITIONS = 8;
const bytes = (text: string) => Buffer.from(text);

/** A database of the tests' own whose table is partitioned, made on first use. */
function partitionedDatabase() {
  let made: Promise<{ url: string; client: postgres.Sql; drop: () => Promise<void> }> | undefined;
  const open = () => {
    made ??= (async () => {
      const database = await createTestDatabase(databaseUrl as string, "partitioned");
      const connection = await connectPostgres(database.url);
      try {
        await migrate(connection.db);
        await partitionTable(connection.db, { partitions: PARTITIONS });
      } finally {
        await connection.close();
      }
      const client = postgres(database.url, { max: 2, onnotice: () => {} });
      return {
        url: database.url,
        client,
        drop: async () => {
          await client.end();
          await database.drop();
        },
      };
    })();
    return made;
  };
  return { open, drop: async () => (made === undefined ? undefined : (await made).drop()) };
}

// Every case of the suite, revisions, watch and leases included, on a partitioned table.
const suiteDatabase = partitionedDatabase();
let checker: AnyPgDatabase | undefined;
storeConformance({
  name: `PostgreSQL with the table hash-partitioned by prefix into ${PARTITIONS}`,
  skip: databaseUrl === null ? "no PostgreSQL in this run" : undefined,
  create: async ({ max, ...options } = {}) => {
    const { url, client } = await suiteDatabase.open();
    checker ??= drizzlePostgresJs({ client });
    return createPostgresStore(`${url}?pool_max=${max ?? 10}`, options);
  },
  db: () => {
    if (checker === undefined) throw new Error("create a store first");
    return checker;
  },
  dispose: suiteDatabase.drop,
});

/** The partitions a plan reads or writes (`workflow_store_p<n>`), from EXPLAIN's JSON. */
function partitionsIn(plan: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(plan)) for (const item of plan) partitionsIn(item, found);
  else if (typeof plan === "object" && plan !== null) {
    for (const [name, value] of Object.entries(plan)) {
      if (name === "Relation Name" && typeof value === "string" && /^workflow_store_p\d+$/.test(value))
        found.add(value);
      else partitionsIn(value, found);
    }
  }
  return found;
}

describe.skipIf(databaseUrl === null)(`the partitioned table${skipReason}`, () => {
  const partitioned = partitionedDatabase();
  afterAll(() => partitioned.drop());

  it("runs each call of the store on one partition, as EXPLAIN shows", async () => {
    const { url, client } = await partitioned.open();
    const sent: { query: string; params: unknown[] }[] = [];
    const logged = drizzlePostgresJs({
      client: postgres(url, { max: 4, onnotice: () => {} }),
      logger: { logQuery: (query, params) => void sent.push({ query, params }) },
    });
    const store = await createStoreWithDb(logged, { autoMigrate: false });
    const prefix = freshPrefix("explain");
    try {
      await store.set(prefix, "a", bytes("1"));
      await Promise.all(["b", "c", "d", "e"].map((key) => store.set(prefix, key, bytes(key))));
      await store.get(prefix, "a");
      await store.has(prefix, "a");
      const { revision } = (await store.getWithRevision(prefix, "a")) ?? { revision: 0 };
      await store.setIf(prefix, "a", bytes("2"), { revision });
      await store.setIf(prefix, "new", bytes("n"), { revision: 0 });
      await store.removeIf(prefix, "new", { revision: (await store.getWithRevision(prefix, "new"))?.revision ?? 0 });
      await store.update(prefix, "counter", () => bytes("1"));
      await store.getMany(prefix, ["a", "b"]);
      await store.setMany(prefix, { f: bytes("f"), g: bytes("g") });
      await store.removeMany(prefix, ["f"]);
      await collect(store.keys(prefix, { pageSize: 2 }));
      await collect(store.entries(prefix, { pageSize: 2 }));
      await collect(store.keyStats(prefix, { pageSize: 2 }));
      await store.list(prefix, () => {});
      await store.count(prefix);
      await store.transaction(async (tx) => {
        await tx.set(prefix, "tx", bytes("t"));
        await tx.get(prefix, "tx");
      });
      const watch = store.watch(prefix, { fromRevision: 0 })[Symbol.asyncIterator]();
      await watch.next();
      await watch.return?.();
      await store.remove(prefix, "a");
      await store.purge({ olderThan: new Date(Date.now() + 60_000), prefix, dryRun: true });
      await store.purge({ olderThan: new Date(0), prefix });
      await store.removePrefix(prefix);
    } finally {
      await store.close();
      await (logged.$client as postgres.Sql).end();
    }
    const onTable = sent.filter(
      ({ query }) =>
        /"workflow_store"(?!_)|workflow_store"? /.test(query) &&
        !/^(begin|commit|rollback|savepoint|release)/i.test(query),
    );
    expect(onTable.length).toBeGreaterThan(20);
    const spread: string[] = [];
    for (const { query, params } of onTable) {
      const [row] = await client.unsafe(`explain (format json) ${query}`, params as never[]);
      const partitions = partitionsIn(row?.["QUERY PLAN"]);
      if (partitions.size > 1) spread.push(`${partitions.size} partitions: ${query}`);
    }
    expect(spread).toEqual([]);
  });
});

describe.skipIf(databaseUrl === null)(`partitioning a table in use${skipReason}`, () => {
  it("keeps every row, revision, index, trigger and grant, a watch resumes across it, and it runs once", async () => {
    const database = await createTestDatabase(databaseUrl as string, "partition_existing");
    const client = postgres(database.url, { max: 2, onnotice: () => {} });
    const go = goStore(database.url);
    try {
      // The Go store first, then this store over its table; rows from both.
      await client.unsafe(GO_STORE_DDL);
      await go.set("/runs/", "go-written", bytes("g"));
      const store = await createPostgresStore(database.url);
      const prefix = "/runs/";
      for (let i = 0; i < 50; i++) await store.set(prefix, `k${i}`, bytes(String(i)));
      const before = await collect(store.entries(prefix));
      const resumeFrom = (await store.getWithRevision(prefix, "k10"))?.revision ?? 0;
      await store.remove(prefix, "k20");
      await client.unsafe(`create role dws_partition_reader_${process.pid}`);
      await client.unsafe(`grant select on workflow_store to dws_partition_reader_${process.pid}`);

      const connection = await connectPostgres(database.url);
      try {
        expect(await partitionTable(connection.db, { partitions: 4 })).toEqual({
          converted: true,
          partitions: 4,
          rows: 50,
        });
        expect(await partitionTable(connection.db, { partitions: 16 })).toEqual({
          converted: false,
          partitions: 4,
          rows: 0,
        });
      } finally {
        await connection.close();
      }

      // The store's pool goes on over the new table: its statements are prepared again.
      expect(await collect(store.entries(prefix))).toEqual(before.filter((entry) => entry.key !== "k20"));
      const [kind] = await client`select relkind from pg_class where oid = 'workflow_store'::regclass`;
      expect(kind?.relkind).toBe("p");
      const indexes = await client`select indexname from pg_indexes where tablename = 'workflow_store' order by 1`;
      expect(indexes.map((row) => row.indexname)).toEqual([
        "workflow_store_pkey",
        "workflow_store_prefix_key_bytes",
        "workflow_store_prefix_revision",
      ]);
      const [grant] = await client.unsafe(
        `select has_table_privilege('dws_partition_reader_${process.pid}', 'workflow_store', 'SELECT') as "reads"`,
      );
      expect(grant?.reads).toBe(true);
      // A watch from a revision before the conversion gets what followed it, the remove included.
      const changes = store.watch(prefix, { fromRevision: resumeFrom })[Symbol.asyncIterator]();
      const seen = [];
      // The remove was the last change before the conversion.
      for (let event = (await changes.next()).value; ; event = (await changes.next()).value) {
        seen.push(event);
        if (event.type === "remove") break;
      }
      await changes.return?.();
      expect(seen.map((event) => `${event.type} ${event.key}`)).toContain("remove k20");
      expect(seen.map((event) => event.key)).toEqual([
        ...Array.from({ length: 39 }, (_, i) => `k${i + 11}`).filter((key) => key !== "k20"),
        "k20",
      ]);
      // New writes take new revisions, after every old one; the Go store's statements work.
      const last = Math.max(...before.map((entry) => entry.revision));
      expect(await store.setIf(prefix, "after", bytes("a"), { revision: 0 })).toBeGreaterThan(last);
      await go.set(prefix, "go-after", bytes("x"));
      expect((await go.get(prefix, "go-after"))?.toString()).toBe("x");
      expect(await go.list(prefix)).toContain("after");
      await go.remove(prefix, "go-after");
      // The Go store starting again: its DDL passes on the partitioned table.
      await client.unsafe(GO_STORE_DDL);
      const [goIndex] =
        await client`select count(*)::int as n from pg_indexes where indexname = 'idx_workflow_store_prefix'`;
      expect(goIndex?.n).toBe(1);
      await store.close();
    } finally {
      await go.close();
      await client.unsafe(`drop owned by dws_partition_reader_${process.pid}`).catch(() => {});
      await client.unsafe(`drop role if exists dws_partition_reader_${process.pid}`);
      await client.end();
      await database.drop();
    }
  });

  it("is a step of the command's migrate: --partitions after the migrations, on a new table", async () => {
    const database = await createTestDatabase(databaseUrl as string, "partition_cli");
    try {
      const first = await cli(["--url", database.url, "migrate", "--partitions", "4"]);
      expect(first.code).toBe(0);
      expect(first.out).toMatch(/applied 0005_watch_without_write_tax .*\npartitioned by prefix into 4, 0 rows copied/);
      const again = await cli(["--url", database.url, "migrate", "--partitions", "8"]);
      expect(again.out).toMatch(/up to date .*\nalready partitioned by prefix, into 4/);
      expect((await cli(["--url", database.url, "migrate", "--partitions", "1"])).code).not.toBe(0);
    } finally {
      await database.drop();
    }
  });

  it("refuses a partition count out of range with CONFIG and a table not migrated with SCHEMA", async () => {
    const database = await createTestDatabase(databaseUrl as string, "partition_refused");
    const connection = await connectPostgres(database.url);
    try {
      for (const partitions of [1, 1025, 2.5, "8"]) {
        await expectStoreError(partitionTable(connection.db, { partitions: partitions as number }), "CONFIG");
      }
      await expectStoreError(partitionTable(connection.db, { partitions: 4 }), "SCHEMA");
    } finally {
      await connection.close();
      await database.drop();
    }
  });
});
