import { inspect } from "node:util";
import type { ErrorSite } from "./errors.js";
import { checkIterator, checkKey, checkOpen, checkPrefix, checkValue } from "./input.js";
import { type AnyPgDatabase, migrate } from "./migrate.js";
import { resolveStoreOptions, type StoreOptions } from "./options.js";
import { type PreparedQueries, prepareQueries } from "./queries.js";
import { translateError } from "./translate.js";
import type { ListIterator, Store } from "./types.js";

/**
 * The {@link Store} over a Drizzle PostgreSQL database of any driver. Built by
 * {@link createStoreWithDb}, {@link createPostgresStore} and {@link createEmbeddedStore}.
 */
export class DrizzleStore implements Store {
  readonly #queries: PreparedQueries;
  readonly #pageSize: number;
  readonly #release: (() => Promise<void>) | undefined;
  readonly #label: string;
  #closed = false;

  /**
   * @param release closes what the store opened itself; absent when the database is the caller's.
   * @param label what `util.inspect` shows of the store (never a password).
   */
  constructor(db: AnyPgDatabase, options: Readonly<Required<StoreOptions>>, release?: () => Promise<void>, label = "") {
    this.#queries = prepareQueries(db);
    this.#pageSize = options.pageSize;
    this.#release = release;
    this.#label = label;
  }

  async get(prefix: string, key: string): Promise<Buffer | null> {
    checkOpen(this.#closed, "get", prefix, key);
    checkKey("get", prefix, key);
    const rows = await this.#run({ op: "get", prefix, key }, () => this.#queries.get.execute({ prefix, key }));
    const row = rows[0];
    if (row === undefined) return null;
    // A row the original store wrote with a NULL value exists: it reads as empty, not as missing.
    return row.value ?? Buffer.alloc(0);
  }

  async set(prefix: string, key: string, value: Uint8Array): Promise<void> {
    checkOpen(this.#closed, "set", prefix, key);
    checkKey("set", prefix, key);
    const bytes = checkValue({ op: "set", prefix, key }, value);
    await this.#run({ op: "set", prefix, key }, () => this.#queries.set.execute({ prefix, key, value: bytes }));
  }

  async remove(prefix: string, key: string): Promise<void> {
    checkOpen(this.#closed, "remove", prefix, key);
    checkKey("remove", prefix, key);
    await this.#run({ op: "remove", prefix, key }, () => this.#queries.remove.execute({ prefix, key }));
  }

  async list(prefix: string, iterator: ListIterator): Promise<void> {
    checkOpen(this.#closed, "list", prefix);
    checkPrefix("list", prefix);
    checkIterator(prefix, iterator);
    const limit = this.#pageSize;
    let after: string | undefined;
    for (;;) {
      // Keyset paging: each page is its own query, so no connection is held while the iterator
      // runs, and keys written or removed meanwhile are neither repeated nor an error.
      const page = await this.#run({ op: "list", prefix }, () =>
        after === undefined
          ? this.#queries.listFirst.execute({ prefix, limit })
          : this.#queries.listAfter.execute({ prefix, after, limit }),
      );
      for (const { key } of page) {
        if ((await iterator(key)) === false) return;
      }
      const last = page.at(-1);
      if (last === undefined || page.length < limit) return;
      after = last.key;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#release !== undefined) await this.#run({ op: "close" }, this.#release);
  }

  [inspect.custom](): string {
    return `DrizzleStore { ${this.#label}${this.#closed ? " closed" : ""} }`;
  }

  async #run<T>(site: ErrorSite, query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw translateError(error, site);
    }
  }
}

/**
 * A store over an app's existing Drizzle PostgreSQL database or transaction, of any driver
 * (postgres.js, node-postgres, PGlite). Runs {@link migrate} first unless `autoMigrate` is `false`.
 * `close()` leaves the caller's connection open.
 *
 * @example
 * import { drizzle } from "drizzle-orm/node-postgres";
 * const db = drizzle(process.env.DATABASE_URL!);
 * const store = await createStoreWithDb(db);
 */
export async function createStoreWithDb(db: AnyPgDatabase, options?: StoreOptions): Promise<Store> {
  const resolved = resolveStoreOptions(options);
  if (resolved.autoMigrate) await migrate(db);
  return new DrizzleStore(db, resolved, undefined, "caller's database");
}
