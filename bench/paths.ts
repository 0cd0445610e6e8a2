import { PGlite } from "@electric-sql/pglite";
import KeyvPostgres from "@keyv/postgres";
import { drizzle as drizzleNodePostgres } from "drizzle-orm/node-postgres";
import Keyv from "keyv";
import pg from "pg";
import postgres from "postgres";
import { createEmbeddedStore, createPostgresStore, createStoreWithDb, type Store, StoreError } from "../src/index.js";
import { Arrivals } from "./arrivals.js";
import { chunkedHome, type Home, keyvHome, storeHome } from "./seed.js";
import {
  ALL_ENTRIES,
  ALL_KEYS,
  COUNTER_CREATE,
  COUNTER_LOCK,
  COUNTER_UPDATE,
  GET,
  GET_MANY,
  KEYS_AFTER,
  KEYS_FIRST,
  NOTIFY,
  PLAIN_CHANNEL,
  PLAIN_TABLE,
  REMOVE,
  REMOVE_PREFIX,
  rowsOf,
  SET,
  SET_ROWS,
  STORE_GET,
  STORE_SET,
  type Statement,
} from "./sql.js";

/** Connections of every pool the bench opens: the size of the store's default pool. */
const POOL_SIZE = 10;

/** One way to do the workloads' operations; a path does only those it has. */
export interface Path {
  name: string;
  home: Home;
  get?(prefix: string, key: string): Promise<unknown>;
  set?(prefix: string, key: string, value: Buffer): Promise<unknown>;
  remove?(prefix: string, key: string): Promise<unknown>;
  /** Every key of the prefix, in byte order; `each` is called per key. */
  walkKeys?(prefix: string, each: () => void): Promise<void>;
  /** Every row of the prefix with its value, in byte order; `each` is called per row. */
  walkEntries?(prefix: string, each: () => void): Promise<void>;
  /** One page of `limit` keys after `after` (from the start when undefined). */
  keysPage?(prefix: string, after: string | undefined, limit: number): Promise<unknown>;
  getMany?(prefix: string, keys: string[]): Promise<unknown>;
  setMany?(prefix: string, entries: [string, Buffer][]): Promise<unknown>;
  /**
   * Adds one to the counter under `(prefix, key)` (its value is the count as decimal text; a
   * missing row counts 0), as one of many callers at once; resolves with the count it wrote.
   */
  increment?(prefix: string, key: string): Promise<number>;
  /** As `increment`, by the store's own compare-and-set: `getWithRevision`, `setIf`, again on `CONFLICT`. */
  casIncrement?(prefix: string, key: string): Promise<number>;
  /** Writes the value, and resolves once the path's listener on the prefix has received the change. */
  setAndSee?(prefix: string, key: string, value: Buffer): Promise<void>;
  /** Stops what the path started for its operations (listeners, watches), before its family closes. */
  close?(): Promise<void>;
}

/** The paths on one kind of database; the first is the floor of the others. */
export interface Family {
  name: "PostgreSQL" | "embedded";
  paths: Path[];
  /** The Go engine's way to read a prefix: `list`, then one `get` per key. */
  goPattern: Pick<Required<Path>, "name" | "home" | "walkEntries">;
  close(): Promise<void>;
}

/** A counter's value: the count as decimal text. */
function counterBytes(count: number): Buffer {
  return Buffer.from(String(count));
}

function counterOf(value: Uint8Array | undefined): number {
  if (value === undefined) throw new Error("the counter's row is missing after its insert");
  return Number(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString());
}

/** Registers the wait for the change before the write starts, so that an early arrival is not missed. */
async function writeAndSee(arrivals: Arrivals, prefix: string, key: string, write: () => Promise<unknown>) {
  await Promise.all([arrivals.expect(prefix, key), write()]);
}

/** A raw path's own notification of its write: `[prefix, key]`. */
function arriveFromPayload(arrivals: Arrivals, payload: string): void {
  const [prefix, key] = JSON.parse(payload) as [string, string];
  arrivals.arrive(prefix, key);
}

/**
 * The store's paths. `increment` is `update`; `casIncrement` the loop an app would write without
 * it: `getWithRevision`, then `setIf` at that revision, again from the read on `CONFLICT`. `setAndSee` keeps one watch per prefix running from its first
 * call until `close`.
 */
function storePath(name: string, store: Store, home: Home): Path {
  const arrivals = new Arrivals();
  const watching = new AbortController();
  const watches = new Map<string, Promise<void>>();
  const watch = async (prefix: string) => {
    // From revision 0, not from now: a write that commits before the watch listens is read back
    // from the table rather than missed. The bench's prefixes are new, so that is nothing.
    for await (const event of store.watch(prefix, { fromRevision: 0, signal: watching.signal })) {
      if (event.type === "set") arrivals.arrive(prefix, event.key);
    }
  };
  return {
    name,
    home,
    get: (prefix, key) => store.get(prefix, key),
    set: (prefix, key, value) => store.set(prefix, key, value),
    remove: (prefix, key) => store.remove(prefix, key),
    async walkKeys(prefix, each) {
      for await (const _key of store.keys(prefix)) each();
    },
    async walkEntries(prefix, each) {
      for await (const _entry of store.entries(prefix)) each();
    },
    async keysPage(prefix, after, limit) {
      for await (const _key of store.keys(prefix, { ...(after !== undefined && { after }), limit })) {
        // Only the page's fetching is measured.
      }
    },
    getMany: (prefix, keys) => store.getMany(prefix, keys),
    setMany: (prefix, entries) => store.setMany(prefix, entries),
    async increment(prefix, key) {
      let count = 0;
      await store.update(prefix, key, (current) => {
        count = (current === null ? 0 : counterOf(current)) + 1;
        return counterBytes(count);
      });
      return count;
    },
    async casIncrement(prefix, key) {
      for (;;) {
        const current = await store.getWithRevision(prefix, key);
        const count = (current === null ? 0 : counterOf(current.value)) + 1;
        try {
          await store.setIf(prefix, key, counterBytes(count), { revision: current?.revision ?? 0 });
          return count;
        } catch (error) {
          if (!(error instanceof StoreError && error.code === "CONFLICT")) throw error;
        }
      }
    },
    setAndSee(prefix, key, value) {
      if (!watches.has(prefix)) {
        watches.set(
          prefix,
          watch(prefix).catch((error: unknown) => arrivals.fail(error)),
        );
      }
      return writeAndSee(arrivals, prefix, key, () => store.set(prefix, key, value));
    },
    async close() {
      watching.abort();
      await Promise.all(watches.values());
    },
  };
}

function goPatternPath(name: string, store: Store, home: Home): Family["goPattern"] {
  return {
    name,
    home,
    async walkEntries(prefix, each) {
      const keys: string[] = [];
      await store.list(prefix, (key) => {
        keys.push(key);
      });
      for (const key of keys) {
        if ((await store.get(prefix, key)) !== null) each();
      }
    },
  };
}

/**
 * The simplest SQL for each call on the plain table, straight through postgres.js (prepared, as the
 * store's are). `increment` is pessimistic: one transaction that locks the counter's row;
 * `setAndSee` writes and notifies its write in one transaction, and listens on a connection of its
 * own (postgres.js opens one for `listen`).
 */
function rawPostgresPath(sql: postgres.Sql): Path {
  const query = (text: string, params: unknown[]) => sql.unsafe(text, params as never[], { prepare: true });
  const run = (statement: Statement, values: Record<string, unknown>) =>
    query(statement.text, statement.params(values));
  const home = chunkedHome(
    (prefix, chunk) => run(SET_ROWS, rowsOf(prefix, chunk)),
    (prefix) => run(REMOVE_PREFIX, { prefix }),
    () => sql`analyze plain_store`,
  );
  const arrivals = new Arrivals();
  let listening: Promise<postgres.ListenMeta> | undefined;
  return {
    name: "raw postgres.js",
    home,
    get: (prefix, key) => query(GET, [prefix, key]),
    set: (prefix, key, value) => query(SET, [prefix, key, value]),
    remove: (prefix, key) => query(REMOVE, [prefix, key]),
    async walkKeys(prefix, each) {
      for (const _row of await query(ALL_KEYS, [prefix])) each();
    },
    async walkEntries(prefix, each) {
      for (const _row of await query(ALL_ENTRIES, [prefix])) each();
    },
    keysPage: (prefix, after, limit) =>
      after === undefined ? query(KEYS_FIRST, [prefix, limit]) : query(KEYS_AFTER, [prefix, after, limit]),
    getMany: (prefix, keys) => query(GET_MANY, [prefix, keys]),
    // One statement per row, in one transaction: what a batch costs without unnest.
    setMany: (prefix, entries) =>
      sql.begin(async (tx) => {
        for (const [key, value] of entries) await tx.unsafe(SET, [prefix, key, value], { prepare: true });
      }),
    increment: (prefix, key) =>
      sql.begin(async (tx) => {
        const inTx = (text: string, params: unknown[]) => tx.unsafe(text, params as never[], { prepare: true });
        await inTx(COUNTER_CREATE, [prefix, key, counterBytes(0)]);
        const [row] = await inTx(COUNTER_LOCK, [prefix, key]);
        const count = counterOf(row?.value as Buffer | undefined) + 1;
        await inTx(COUNTER_UPDATE, [prefix, key, counterBytes(count)]);
        return count;
      }),
    async setAndSee(prefix, key, value) {
      listening ??= sql.listen(PLAIN_CHANNEL, (payload) => arriveFromPayload(arrivals, payload));
      await listening;
      await writeAndSee(arrivals, prefix, key, () =>
        sql.begin(async (tx) => {
          await tx.unsafe(SET, [prefix, key, value], { prepare: true });
          await tx.unsafe(NOTIFY, [JSON.stringify([prefix, key])], { prepare: true });
        }),
      );
    },
    async close() {
      // A listen that failed failed the workload already; closing goes on.
      await (await listening?.catch(() => undefined))?.unlisten();
    },
  };
}

/**
 * The store's own get and set statements on the plain table, through raw postgres.js: beside the
 * floor, what the store's SQL costs, apart from its client.
 */
function rawStoreSqlPath(sql: postgres.Sql, home: Home): Path {
  const run = (statement: Statement, values: Record<string, unknown>) =>
    sql.unsafe(statement.text, statement.params(values) as never[], { prepare: true });
  return {
    name: "raw postgres.js, the store's SQL",
    home,
    get: (prefix, key) => run(STORE_GET, { prefix, key }),
    set: (prefix, key, value) => run(STORE_SET, { prefix, key, value }),
  };
}

/**
 * The simplest SQL for each call on the plain table, straight through a node-postgres pool (named
 * prepared statements, as the store's are): the floor of the store over node-postgres.
 */
function rawNodePostgresPath(pool: pg.Pool, home: Home): Path {
  const query = (name: string, text: string, values: unknown[]) => pool.query({ name, text, values });
  return {
    name: "raw node-postgres",
    home,
    get: (prefix, key) => query("plain_get", GET, [prefix, key]),
    set: (prefix, key, value) => query("plain_set", SET, [prefix, key, value]),
    remove: (prefix, key) => query("plain_remove", REMOVE, [prefix, key]),
    async walkKeys(prefix, each) {
      for (const _row of (await query("plain_all_keys", ALL_KEYS, [prefix])).rows) each();
    },
    async walkEntries(prefix, each) {
      for (const _row of (await query("plain_all_entries", ALL_ENTRIES, [prefix])).rows) each();
    },
  };
}

/** The simplest SQL for each call on the plain table, straight through PGlite's `query`; `increment` and `setAndSee` as on the server. */
function rawPglitePath(client: PGlite): Path {
  const run = (statement: Statement, values: Record<string, unknown>) =>
    client.query(statement.text, statement.params(values));
  const home = chunkedHome(
    (prefix, chunk) => run(SET_ROWS, rowsOf(prefix, chunk)),
    (prefix) => run(REMOVE_PREFIX, { prefix }),
    () => client.exec("analyze plain_store"),
  );
  const arrivals = new Arrivals();
  let listening: Promise<() => Promise<void>> | undefined;
  return {
    name: "raw PGlite",
    home,
    get: (prefix, key) => client.query(GET, [prefix, key]),
    set: (prefix, key, value) => client.query(SET, [prefix, key, value]),
    remove: (prefix, key) => client.query(REMOVE, [prefix, key]),
    async walkKeys(prefix, each) {
      for (const _row of (await client.query(ALL_KEYS, [prefix])).rows) each();
    },
    async walkEntries(prefix, each) {
      for (const _row of (await client.query(ALL_ENTRIES, [prefix])).rows) each();
    },
    keysPage: (prefix, after, limit) =>
      after === undefined
        ? client.query(KEYS_FIRST, [prefix, limit])
        : client.query(KEYS_AFTER, [prefix, after, limit]),
    getMany: (prefix, keys) => client.query(GET_MANY, [prefix, keys]),
    setMany: (prefix, entries) =>
      client.transaction(async (tx) => {
        for (const [key, value] of entries) await tx.query(SET, [prefix, key, value]);
      }),
    increment: (prefix, key) =>
      client.transaction(async (tx) => {
        await tx.query(COUNTER_CREATE, [prefix, key, counterBytes(0)]);
        const [row] = (await tx.query<{ value: Uint8Array }>(COUNTER_LOCK, [prefix, key])).rows;
        const count = counterOf(row?.value) + 1;
        await tx.query(COUNTER_UPDATE, [prefix, key, counterBytes(count)]);
        return count;
      }),
    async setAndSee(prefix, key, value) {
      listening ??= client.listen(PLAIN_CHANNEL, (payload) => arriveFromPayload(arrivals, payload));
      await listening;
      await writeAndSee(arrivals, prefix, key, () =>
        client.transaction(async (tx) => {
          await tx.query(SET, [prefix, key, value]);
          await tx.query(NOTIFY, [JSON.stringify([prefix, key])]);
        }),
      );
    },
    async close() {
      await (await listening?.catch(() => undefined))?.();
    },
  };
}

/** Keyv over `@keyv/postgres`, `prefix/key` as its key: the usual key-value store of Node apps. */
function keyvPath(keyv: Keyv): Path {
  return {
    name: "@keyv/postgres",
    home: keyvHome(keyv),
    get: (prefix, key) => keyv.get(`${prefix}/${key}`),
    set: (prefix, key, value) => keyv.set(`${prefix}/${key}`, value),
  };
}

/** The store over postgres.js and over node-postgres, raw postgres.js, and keyv, on one database. */
export async function openServer(url: string): Promise<Family> {
  // First, so that its migrations create the table the raw paths use.
  const viaPostgresJs = await createPostgresStore(url);
  const raw = postgres(url, { max: POOL_SIZE, onnotice: () => {} });
  await raw.unsafe(PLAIN_TABLE);
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const viaNodePostgres = await createStoreWithDb(drizzleNodePostgres({ client: pool }));
  const keyv = new Keyv({ store: new KeyvPostgres({ uri: url, max: POOL_SIZE }) });
  keyv.on("error", (error: unknown) => {
    throw error;
  });
  const home = storeHome(viaPostgresJs, () => raw`analyze workflow_store`);
  const floor = rawPostgresPath(raw);
  const rawPool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const paths = [
    floor,
    rawStoreSqlPath(raw, floor.home),
    rawNodePostgresPath(rawPool, floor.home),
    storePath("store · postgres.js", viaPostgresJs, home),
    storePath("store · node-postgres", viaNodePostgres, home),
    keyvPath(keyv),
  ];
  return {
    name: "PostgreSQL",
    paths,
    goPattern: goPatternPath("Go pattern: list + get · postgres.js", viaPostgresJs, home),
    async close() {
      await Promise.all(paths.map((path) => path.close?.()));
      await Promise.all([viaPostgresJs.close(), viaNodePostgres.close(), keyv.disconnect()]);
      await Promise.all([pool.end(), rawPool.end(), raw.end()]);
    },
  };
}

/** Two things opened side by side; when one fails, the other is closed (so that nothing keeps the process alive). */
async function sideBySide<A extends { close(): Promise<void> }, B extends { close(): Promise<void> }>(
  a: Promise<A>,
  b: Promise<B>,
): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === "fulfilled" && second.status === "fulfilled") return [first.value, second.value];
  if (first.status === "fulfilled") await first.value.close();
  if (second.status === "fulfilled") await second.value.close();
  throw first.status === "rejected" ? first.reason : second.status === "rejected" ? second.reason : undefined;
}

/** What the bench opened for one path, and how to close it. */
export interface Opened<P = Path> {
  path: P;
  close(): Promise<void>;
}

/** A PGlite of its own for the raw path, with the plain table. */
export async function openRawPglite(): Promise<Opened> {
  const client = await PGlite.create();
  await client.exec(PLAIN_TABLE);
  const path = rawPglitePath(client);
  return {
    path,
    async close() {
      await path.close?.();
      await client.close();
    },
  };
}

/** The embedded store, with its own data. */
export async function openEmbeddedStore(): Promise<Opened & { goPattern: Family["goPattern"] }> {
  const store = await createEmbeddedStore();
  // The embedded store analyzes its tables itself as they grow.
  const home = storeHome(store, async () => {});
  const path = storePath("embedded store", store, home);
  return {
    path,
    goPattern: goPatternPath("Go pattern: list + get · embedded", store, home),
    async close() {
      await path.close?.();
      await store.close();
    },
  };
}

/** The embedded store, and raw PGlite on a PGlite of its own, each with its own data. */
export async function openEmbedded(): Promise<Family> {
  // Side by side: each start is seconds of compiling WebAssembly.
  const [raw, embedded] = await sideBySide(openRawPglite(), openEmbeddedStore());
  return {
    name: "embedded",
    paths: [raw.path, embedded.path],
    goPattern: embedded.goPattern,
    async close() {
      await Promise.all([embedded.close(), raw.close()]);
    },
  };
}
