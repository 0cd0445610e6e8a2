import { PGlite } from "@electric-sql/pglite";
import KeyvPostgres from "@keyv/postgres";
import { drizzle as drizzleNodePostgres } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import Keyv from "keyv";
import pg from "pg";
import postgres from "postgres";
import { createEmbeddedStore, createPostgresStore, createStoreWithDb, type Store } from "../src/index.js";
import { type Home, keyvHome, storeHome } from "./seed.js";
import { ALL_ENTRIES, ALL_KEYS, GET, GET_MANY, KEYS_AFTER, KEYS_FIRST, REMOVE, SET, type Statement } from "./sql.js";

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
}

/** The paths on one kind of database; the first is the floor of the others. */
export interface Family {
  name: "PostgreSQL" | "embedded";
  paths: Path[];
  /** The original Go engine's way to read a prefix: `list`, then one `get` per key. */
  goPattern: Pick<Required<Path>, "name" | "home" | "walkEntries">;
  close(): Promise<void>;
}

function storePath(name: string, store: Store, home: Home): Path {
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

/** The same SQL as the store, straight through postgres.js (prepared, as the store's are). */
function rawPostgresPath(sql: postgres.Sql, home: Home): Path {
  const query = (text: string, params: unknown[]) => sql.unsafe(text, params as never[], { prepare: true });
  const run = (statement: Statement, values: Record<string, unknown>) =>
    query(statement.text, statement.params(values));
  return {
    name: "raw postgres.js",
    home,
    get: (prefix, key) => run(GET, { prefix, key }),
    set: (prefix, key, value) => run(SET, { prefix, key, value }),
    remove: (prefix, key) => run(REMOVE, { prefix, key }),
    async walkKeys(prefix, each) {
      for (const _row of await query(ALL_KEYS, [prefix])) each();
    },
    async walkEntries(prefix, each) {
      for (const _row of await query(ALL_ENTRIES, [prefix])) each();
    },
    keysPage: (prefix, after, limit) =>
      after === undefined ? run(KEYS_FIRST, { prefix, limit }) : run(KEYS_AFTER, { prefix, after, limit }),
    getMany: (prefix, keys) => run(GET_MANY, { prefix, keys }),
    // One statement per row, in one transaction: what a batch costs without unnest.
    setMany: (prefix, entries) =>
      sql.begin(async (tx) => {
        for (const [key, value] of entries) {
          await tx.unsafe(SET.text, SET.params({ prefix, key, value }) as never[], { prepare: true });
        }
      }),
  };
}

/** The same SQL as the store, straight through PGlite's `query`. */
function rawPglitePath(client: PGlite, home: Home): Path {
  const run = (statement: Statement, values: Record<string, unknown>) =>
    client.query(statement.text, statement.params(values));
  return {
    name: "raw PGlite",
    home,
    get: (prefix, key) => run(GET, { prefix, key }),
    set: (prefix, key, value) => run(SET, { prefix, key, value }),
    remove: (prefix, key) => run(REMOVE, { prefix, key }),
    async walkKeys(prefix, each) {
      for (const _row of (await client.query(ALL_KEYS, [prefix])).rows) each();
    },
    async walkEntries(prefix, each) {
      for (const _row of (await client.query(ALL_ENTRIES, [prefix])).rows) each();
    },
    keysPage: (prefix, after, limit) =>
      after === undefined ? run(KEYS_FIRST, { prefix, limit }) : run(KEYS_AFTER, { prefix, after, limit }),
    getMany: (prefix, keys) => run(GET_MANY, { prefix, keys }),
    setMany: (prefix, entries) =>
      client.transaction(async (tx) => {
        for (const [key, value] of entries) await tx.query(SET.text, SET.params({ prefix, key, value }));
      }),
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
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const viaNodePostgres = await createStoreWithDb(drizzleNodePostgres({ client: pool }));
  const keyv = new Keyv({ store: new KeyvPostgres({ uri: url, max: POOL_SIZE }) });
  keyv.on("error", (error: unknown) => {
    throw error;
  });
  const home = storeHome(viaPostgresJs, () => raw`analyze workflow_store`);
  return {
    name: "PostgreSQL",
    paths: [
      rawPostgresPath(raw, home),
      storePath("store · postgres.js", viaPostgresJs, home),
      storePath("store · node-postgres", viaNodePostgres, home),
      keyvPath(keyv),
    ],
    goPattern: goPatternPath("Go pattern: list + get · postgres.js", viaPostgresJs, home),
    async close() {
      await Promise.all([viaPostgresJs.close(), viaNodePostgres.close(), keyv.disconnect()]);
      await Promise.all([pool.end(), raw.end()]);
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

/** A PGlite of its own for the raw path; a store on it only creates the table and seeds it. */
export async function openRawPglite(): Promise<Opened> {
  const client = await PGlite.create();
  const seeder = await createStoreWithDb(drizzlePglite({ client }));
  const home = storeHome(seeder, () => client.exec("analyze workflow_store"));
  return { path: rawPglitePath(client, home), close: () => client.close() };
}

/** The embedded store, with its own data. */
export async function openEmbeddedStore(): Promise<Opened & { goPattern: Family["goPattern"] }> {
  const store = await createEmbeddedStore();
  // The embedded store analyzes its tables itself as they grow.
  const home = storeHome(store, async () => {});
  return {
    path: storePath("embedded store", store, home),
    goPattern: goPatternPath("Go pattern: list + get · embedded", store, home),
    close: () => store.close(),
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
