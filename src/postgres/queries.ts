import { createHash } from "node:crypto";
import { and, Column, count, eq, is, isNotNull, lt, SQL, sql } from "drizzle-orm";
import { makePgArray } from "drizzle-orm/pg-core";
import type { WatchEvent } from "../core/types.js";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { DEFAULT_SCHEMA, REVISION_SEQUENCE, workflowStoreTables } from "../schema.js";

/** The database clock; `timestamptz` holds the instant whatever the session's TimeZone. */
const now = sql<Date>`now()`;

const prefix = sql.placeholder("prefix");

const key = sql.placeholder("key");
const limit = sql.placeholder("limit");

/**
 * Statement names are the package's own, so they cannot clash with an app's; a store on another
 * schema gets names of its own too (node-postgres refuses one name for two texts on a connection).
 * Without `prepare`, no name: Drizzle then sends the statement unnamed on every driver.
 */
function statementNames(schema: string, prepare: boolean): (name: string) => string {
  // biome-ignore lint/style/noNonNullAssertion: Drizzle types a name as required, and treats undefined as none.
  if (!prepare) return () => undefined!;
  if (schema === DEFAULT_SCHEMA) return (name) => `workflow_store_${name}`;
  const tag = createHash("sha256").update(schema).digest("hex").slice(0, 8);
  return (name) => `workflow_store_${name}_${tag}`;
}

interface DecodedColumn {
  mapFromDriverValue(value: unknown): unknown;
}

/** What a Drizzle prepared statement of any PostgreSQL driver holds of its result's shape. */
interface ResultShape {
  fields?: { path: string[]; field: unknown }[];
  customResultMapper?: (rows: unknown[][]) => unknown;
}

/**
 * Drizzle maps each row it reads through code that works out every column's kind and decoder again,
 * per row (its `mapResultRow`), which cost a page of 100,000 keys more than the driver took to read
 * it. Every driver's prepared statement takes a mapper of its own instead (`customResultMapper`,
 * given the driver's rows as arrays): this one is worked out once per statement and gives the same
 * rows, an object per row with each column through its Drizzle decoder. A statement with nested
 * fields (a join's) keeps Drizzle's mapping; flat ones have nothing for its join handling to do.
 */
function mapRowsOnce<Q>(prepared: Q): Q {
  const shape = prepared as ResultShape;
  const fields = shape.fields;
  if (fields === undefined || shape.customResultMapper !== undefined) return prepared;
  const names: string[] = [];
  const decoders: DecodedColumn[] = [];
  for (const { path, field } of fields) {
    // A `sql` expression keeps its decoder (`mapWith`) in a field Drizzle marks internal.
    const decoder = is(field, Column)
      ? field
      : is(field, SQL)
        ? (field as unknown as { decoder: DecodedColumn }).decoder
        : undefined;
    const [name] = path;
    if (path.length !== 1 || name === undefined || decoder === undefined) return prepared;
    names.push(name);
    decoders.push(decoder);
  }
  shape.customResultMapper = (rows) =>
    rows.map((row) => {
      const mapped: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) {
        const value = row[i];
        mapped[names[i] as string] = value === null ? null : (decoders[i] as DecodedColumn).mapFromDriverValue(value);
      }
      return mapped;
    });
  return prepared;
}

/** Turns each builder into a getter that prepares its statement on first use and keeps it. */
function preparedOnFirstUse<T extends Record<string, () => unknown>>(
  builders: T,
): { readonly [K in keyof T]: ReturnType<T[K]> } {
  const prepared = {} as { [K in keyof T]: ReturnType<T[K]> };
  for (const name of Object.keys(builders) as (keyof T)[]) {
    let statement: ReturnType<T[typeof name]> | undefined;
    Object.defineProperty(prepared, name, {
      get: () => {
        statement ??= mapRowsOnce((builders[name] as () => unknown)() as ReturnType<T[typeof name]>);
        return statement;
      },
    });
  }
  return prepared;
}

/**
 * The store's statements, built and prepared once per database (or transaction) rather than on
 * every call, each the first time it is needed, on the table of the given PostgreSQL schema.
 */
export function prepareQueries(db: AnyPgDatabase, schema: string, prepare: boolean) {
  const tables = workflowStoreTables(schema);
  const workflowStore = tables.store;
  const { changes, compaction, leases } = tables;
  const named = statementNames(schema, prepare);
  // Keys compare byte by byte (UTF-8), whatever the database's collation.
  const keyInByteOrder = sql`${workflowStore.key} collate "C"`;
  const inPrefix = eq(workflowStore.prefix, prefix);
  // Keys are compared in the C collation for equality too: the same result as the database's (a
  // deterministic collation's equality is byte equality), and it lets one index, the byte-order
  // one, take both the prefix and the key as index conditions. Compared in the database's
  // collation, the primary key and the byte-order index tied for a prefix the planner had no
  // statistics for, and it could pick the latter and filter the whole prefix for the key.
  const thisRow = and(inPrefix, sql`${keyInByteOrder} = ${key}`);
  // A NULL value (the original store can write one) reads as missing, as it does there.
  const hasValue = isNotNull(workflowStore.value);
  // Arrays go as one parameter each, so a batch of any size is one statement within PostgreSQL's
  // 65,535 bind parameters.
  const anyKey = sql`${keyInByteOrder} = any(${sql.placeholder("keys")}::varchar[])`;
  const prefixes = sql.placeholder("prefixes");
  const keys = sql.placeholder("keys");
  const afterKey = sql`${keyInByteOrder} > ${sql.placeholder("after")}`;
  // A value over the store's maxValueBytes is not sent (it might not even fit in a string on the
  // way); its size is, so that the store can say why it cannot read it.
  const readable = {
    value:
      sql`case when octet_length(${workflowStore.value}) <= ${sql.placeholder("maxBytes")} then ${workflowStore.value} end`.mapWith(
        workflowStore.value,
      ),
    size: sql<number>`octet_length(${workflowStore.value})`.mapWith(Number),
  };
  const keysPage = (after: boolean) =>
    db
      .select({ key: workflowStore.key })
      .from(workflowStore)
      .where(after ? and(inPrefix, afterKey) : inPrefix)
      .orderBy(keyInByteOrder)
      .limit(limit);
  const entriesPage = (after: boolean) =>
    db
      .select({
        key: workflowStore.key,
        revision: workflowStore.revision,
        ...readable,
        // Rows written by the original store may lack a timestamp.
        createdAt: sql`coalesce(${workflowStore.createdAt}, ${workflowStore.updatedAt}, 'epoch')`.mapWith(
          workflowStore.createdAt,
        ),
        updatedAt: sql`coalesce(${workflowStore.updatedAt}, ${workflowStore.createdAt}, 'epoch')`.mapWith(
          workflowStore.updatedAt,
        ),
      })
      .from(workflowStore)
      .where(after ? and(inPrefix, afterKey, hasValue) : and(inPrefix, hasValue))
      .orderBy(keyInByteOrder)
      .limit(limit);
  const onConflictUpdate = {
    target: [workflowStore.prefix, workflowStore.key],
    set: { value: sql`excluded.value`, updatedAt: sql`excluded.updated_at` },
  };
  const upsert = (rows: SQL) => db.insert(workflowStore).select(rows).onConflictDoUpdate(onConflictUpdate);
  const countDeleted = (where: SQL | undefined, name: string) => {
    const deleted = db.$with("deleted").as(db.delete(workflowStore).where(where).returning({ key: workflowStore.key }));
    return db.with(deleted).select({ count: count() }).from(deleted).prepare(name);
  };
  const purge = (where: SQL | undefined, name: string) => {
    // A batch of old rows, skipping any a writer holds, so that purge never waits on a row (a
    // row's age is checked again once locked).
    const batch = db
      .select({ prefix: workflowStore.prefix, key: workflowStore.key })
      .from(workflowStore)
      .where(where)
      .limit(limit)
      .for("update", { skipLocked: true });
    return countDeleted(sql`(${workflowStore.prefix}, ${workflowStore.key}) in (${batch})`, name);
  };
  const olderThan = lt(workflowStore.updatedAt, sql.placeholder("olderThan"));
  const expected = eq(workflowStore.revision, sql.placeholder("revision"));
  // A compare-and-set reports the row's revision when it fails. Locked, the row is read as last
  // committed, not as the statement's snapshot saw it, which a writer that committed meanwhile
  // (and made the compare fail) left behind.
  const current = db
    .$with("current")
    .as(db.select({ revision: workflowStore.revision }).from(workflowStore).where(thisRow).for("update"));
  /** One row: the revision the write took (null when it did not happen) and the row's current one. */
  const compared = (written: { _: { alias: string } }) =>
    sql`(select (select "revision" from ${sql.identifier(written._.alias)}) as "revision",
      (select "revision" from "current") as "current") as "compared"`;
  const revisionPair = {
    revision: sql<number | null>`"revision"`.mapWith(Number),
    current: sql<number | null>`"current"`.mapWith(Number),
  };
  const qualified = (name: string) => `${schema === DEFAULT_SCHEMA ? "" : `"${schema.replaceAll('"', '""')}".`}${name}`;
  const sequence = sql`nextval(${qualified(REVISION_SEQUENCE)}::regclass)`;
  // Functions of the schema: unqualified in the default one, found on the search_path as the table is.
  const functionIn = (name: string) => sql.raw(qualified(`"${name}"`));
  const leaseExpiry = sql`clock_timestamp() + ${sql.placeholder("ttlMs")} * interval '1 millisecond'`;

  // update's read, a builder each time: Drizzle's `for` changes the builder it is called on.
  const updateRead = () =>
    db
      .select({ ...readable, revision: workflowStore.revision })
      .from(workflowStore)
      .where(thisRow);

  return preparedOnFirstUse({
    get: () => db.select(readable).from(workflowStore).where(and(thisRow, hasValue)).prepare(named("get")),
    // VALUES, not the SELECT of setRows: PGlite plans it faster (220 µs against 240 per call).
    set: () =>
      db
        .insert(workflowStore)
        .values({ prefix, key, value: sql.placeholder("value"), createdAt: now, updatedAt: now })
        .onConflictDoUpdate(onConflictUpdate)
        .prepare(named("set")),
    remove: () => db.delete(workflowStore).where(thisRow).prepare(named("remove")),
    has: () =>
      db
        .select({ found: sql<number>`1` })
        .from(workflowStore)
        .where(and(thisRow, hasValue))
        .limit(1)
        .prepare(named("has")),
    count: () => db.select({ count: count() }).from(workflowStore).where(inPrefix).prepare(named("count")),
    keysFirst: () => keysPage(false).prepare(named("keys_first")),
    keysAfter: () => keysPage(true).prepare(named("keys_after")),
    entriesFirst: () => entriesPage(false).prepare(named("entries_first")),
    entriesAfter: () => entriesPage(true).prepare(named("entries_after")),
    getMany: () =>
      db
        .select({ key: workflowStore.key, ...readable })
        .from(workflowStore)
        .where(and(inPrefix, anyKey, hasValue))
        .prepare(named("get_many")),
    /**
     * Rows of any prefixes at once, for sets sent together and for setMany, with parameters from
     * {@link setRowsParameters}. The values travel as one base64 text, cut into rows by offset:
     * postgres.js cannot send a bytea[], and PostgreSQL parses a text[] of large values slowly
     * (1,000 values of 64 KiB: 2.3 s as a text[], 1.1 s so). OFFSET 0 keeps the decoding to once
     * per statement in a generic plan too. The revision's 0 is a placeholder: the trigger of
     * migration 0004 gives every row its own.
     */
    setRows: () =>
      upsert(
        sql`select p, k, substring(decoded.bytes from o for l), ${now}, ${now}, 0
            from (select decode(${sql.placeholder("values")}::text, 'base64') as bytes offset 0) as decoded,
              unnest(${prefixes}::varchar[], ${keys}::varchar[], ${sql.placeholder("starts")}::int[], ${sql.placeholder("lengths")}::int[]) as batch(p, k, o, l)`,
      ).prepare(named("set_rows")),
    /** Values of any prefixes at once, for gets sent together. */
    getRows: () =>
      db
        .select({ prefix: workflowStore.prefix, key: workflowStore.key, ...readable })
        .from(workflowStore)
        .where(
          and(
            sql`(${workflowStore.prefix}, ${keyInByteOrder}) in (select * from unnest(${prefixes}::varchar[], ${keys}::varchar[]))`,
            hasValue,
          ),
        )
        .prepare(named("get_rows")),
    getWithRevision: () =>
      db
        .select({ ...readable, revision: workflowStore.revision })
        .from(workflowStore)
        .where(and(thisRow, hasValue))
        .prepare(named("get_with_revision")),
    // update's read: a row without a value (the Go store can write one) counts as absent, but its
    // revision makes the write that follows replace it rather than conflict with it.
    updateRead: () => updateRead().prepare(named("update_read")),
    updateReadLocked: () => updateRead().for("update").prepare(named("update_read_locked")),
    /** setIf with revision 0: the row only if there is none. */
    insertIfAbsent: () => {
      const written = db.$with("written").as(
        db
          .insert(workflowStore)
          .values({ prefix, key, value: sql.placeholder("value"), createdAt: now, updatedAt: now })
          .onConflictDoNothing()
          .returning({ revision: workflowStore.revision }),
      );
      return db.with(current, written).select(revisionPair).from(compared(written)).prepare(named("insert_if_absent"));
    },
    /** update's write of a row it read `for update`: nothing can have moved it, so no compare. */
    updateLockedRow: () =>
      db
        .update(workflowStore)
        .set({ value: sql`${sql.placeholder("value")}`, updatedAt: now })
        .where(thisRow)
        .returning({ revision: workflowStore.revision })
        .prepare(named("update_locked_row")),
    /**
     * update's compare-and-set: no row when the row has moved on. Unlike updateIf it need not say
     * where to (update reads the row again), which spares it the locked read of the current revision.
     */
    updateAtRevision: () =>
      db
        .update(workflowStore)
        .set({ value: sql`${sql.placeholder("value")}`, updatedAt: now })
        .where(and(thisRow, expected))
        .returning({ revision: workflowStore.revision })
        .prepare(named("update_at_revision")),
    updateIf: () => {
      const written = db.$with("written").as(
        db
          .update(workflowStore)
          .set({ value: sql`${sql.placeholder("value")}`, updatedAt: now })
          .where(and(thisRow, expected))
          .returning({ revision: workflowStore.revision }),
      );
      return db.with(current, written).select(revisionPair).from(compared(written)).prepare(named("update_if"));
    },
    removeIf: () => {
      const written = db
        .$with("written")
        .as(db.delete(workflowStore).where(and(thisRow, expected)).returning({ revision: workflowStore.revision }));
      return db.with(current, written).select(revisionPair).from(compared(written)).prepare(named("remove_if"));
    },
    /**
     * Each key's latest set and every remove of a prefix after a revision and up to another, in
     * revision order; a remove of several keys by one statement has a last key (migration 0005).
     * A remove of a key that is there now is left out: the row there was written after it, even
     * when its revision is lower (an insert takes its revision before it waits for a concurrent
     * delete of the same key to commit), so the key's latest change is that set.
     */
    changesAfter: () => {
      const after = sql.placeholder("after");
      const through = sql.placeholder("through");
      return db
        .select({
          type: sql<WatchEvent["type"]>`"type"`,
          key: sql<string>`"key"`,
          lastKey: sql<string | null>`"last_key"`,
          revision: sql<number>`"revision"`.mapWith(Number),
        })
        .from(
          sql`(select 'set' as "type", ${workflowStore.key} as "key", null::varchar as "last_key", ${workflowStore.revision} as "revision"
                from ${workflowStore}
                where ${workflowStore.prefix} collate "C" = ${prefix} and ${workflowStore.revision} > ${after}
                  and ${workflowStore.revision} <= ${through}
              union all
              select case when ${changes.lastKey} is null then 'remove' else 'removeRange' end, ${changes.key},
                  ${changes.lastKey}, ${changes.revision}
                from ${changes}
                where ${changes.prefix} = ${prefix} and ${changes.revision} > ${after} and ${changes.revision} <= ${through}
                  and (${changes.lastKey} is not null or not exists (
                    select from ${workflowStore} as "present"
                    where "present"."prefix" = ${changes.prefix} and "present"."key" collate "C" = ${changes.key}))
              ) as "changes"`,
        )
        .orderBy(sql`"revision"`)
        .limit(limit)
        .prepare(named("changes_after"));
    },
    /**
     * The last revision given out and the transactions writing the prefix (their virtual ids,
     * comma-separated), as workflow_store_horizon of migration 0005 reads them.
     */
    horizon: () =>
      db
        .select({
          revision: sql<number>`"revision"`.mapWith(Number),
          writers: sql<string>`array_to_string("writers", ',')`,
        })
        .from(sql`${functionIn("workflow_store_horizon")}(${prefix}) as "horizon"`)
        .prepare(named("horizon")),
    /**
     * Marks prefixes as watched by a store for some seconds more, so that their writes notify, or
     * with 0 seconds takes its marks back (migration 0005).
     */
    watchPrefixes: () =>
      db
        .select({ done: sql<number>`1` })
        .from(
          sql`${functionIn("workflow_store_watch")}(${prefixes}::varchar[], ${sql.placeholder("watcher")}::varchar, ${sql.placeholder("seconds")}::int) as "watched"`,
        )
        .prepare(named("watch_prefixes")),
    compactedRevision: () =>
      db.select({ revision: compaction.revision }).from(compaction).prepare(named("compacted_revision")),
    /**
     * Takes a lease nobody holds or whose holder let it expire; no row while another holds it. A
     * takeover draws its token anew under the row's lock, not in VALUES: a value drawn there, before
     * a wait on the row, can be older than the token of a holder that took and released the lease
     * meanwhile. The row outlives release for the same reason: into no row, an INSERT with such a
     * token would succeed.
     */
    acquireLease: () =>
      db
        .insert(leases)
        .values({ name: sql.placeholder("name"), token: sequence, expiresAt: leaseExpiry })
        .onConflictDoUpdate({
          target: leases.name,
          set: { token: sequence, expiresAt: leaseExpiry },
          where: sql`${leases.expiresAt} <= clock_timestamp()`,
        })
        .returning({ token: leases.token, expiresAt: leases.expiresAt })
        .prepare(named("acquire_lease")),
    renewLease: () =>
      db
        .update(leases)
        .set({ expiresAt: leaseExpiry })
        .where(
          and(
            eq(leases.name, sql.placeholder("name")),
            eq(leases.token, sql.placeholder("token")),
            sql`${leases.expiresAt} > clock_timestamp()`,
          ),
        )
        .returning({ expiresAt: leases.expiresAt })
        .prepare(named("renew_lease")),
    /** Expires the holder's row rather than deleting it: see acquireLease. */
    releaseLease: () =>
      db
        .update(leases)
        .set({ expiresAt: sql`clock_timestamp()` })
        .where(and(eq(leases.name, sql.placeholder("name")), eq(leases.token, sql.placeholder("token"))))
        .prepare(named("release_lease")),
    removeMany: () => countDeleted(and(inPrefix, anyKey), named("remove_many")),
    removePrefix: () => countDeleted(inPrefix, named("remove_prefix")),
    purgeAll: () => purge(olderThan, named("purge")),
    purgePrefix: () => purge(and(olderThan, inPrefix), named("purge_prefix")),
  });
}

/**
 * The parameters of `setRows` for rows given as parallel arrays. The rows go sorted by prefix and
 * key, so that two statements writing some of the same rows lock them in the same order: in any
 * other order, two processes' batches deadlock on each other (40P01).
 */
export function setRowsParameters(prefixes: readonly string[], keys: readonly string[], values: readonly Buffer[]) {
  const order = prefixes.map((_, i) => i);
  order.sort((a, b) => compare(prefixes[a] ?? "", prefixes[b] ?? "") || compare(keys[a] ?? "", keys[b] ?? ""));
  const starts: number[] = [];
  const lengths: number[] = [];
  let start = 1;
  for (const i of order) {
    const length = values[i]?.length ?? 0;
    starts.push(start);
    lengths.push(length);
    start += length;
  }
  return {
    prefixes: arrayParameter(order.map((i) => prefixes[i] ?? "")),
    keys: arrayParameter(order.map((i) => keys[i] ?? "")),
    starts: arrayParameter(starts),
    lengths: arrayParameter(lengths),
    values: Buffer.concat(order.map((i) => values[i] ?? Buffer.alloc(0))).toString("base64"),
  };
}

/**
 * An array parameter in PostgreSQL's text form (`{"a","b"}`), as Drizzle sends its array columns:
 * every driver passes a string on as it is, where a JavaScript array would need postgres.js 3 to
 * read the database's array types first (which the store's pools do not; see connectPostgres).
 */
export function arrayParameter(values: readonly (string | number)[]): string {
  return makePgArray(values as (string | number)[]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The prepared statements of one database. */
export type PreparedQueries = ReturnType<typeof prepareQueries>;

/**
 * Copies of the query objects a node-postgres statement hands its client. node-postgres 8.11
 * writes a call's callback into the object it is given (`Pool.query` does), and a `PoolClient.query`
 * of an object that holds one returns nothing: a transaction's statement must not share them with
 * the store's.
 */
function ownConfigs(statement: object): PropertyDescriptorMap {
  const configs: PropertyDescriptorMap = {};
  for (const name of ["queryConfig", "rawQueryConfig"]) {
    const config: unknown = (statement as Record<string, unknown>)[name];
    if (typeof config !== "object" || config === null) continue;
    // Without what a call wrote into it: its values and its callback.
    const { callback: _callback, values: _values, ...own } = config as Record<string, unknown>;
    configs[name] = { value: own };
  }
  return configs;
}

/**
 * A store's statements as a transaction of it runs them: the store's own, each sent through the
 * transaction's connection. Building them again on the transaction's database cost about 250 µs
 * of Drizzle's query building per transaction, for the same text. Every Drizzle PostgreSQL driver's
 * prepared statement sends through its `client`, and a transaction's session holds the
 * transaction's; where either is not there, the statements are built on the transaction's database.
 */
export function queriesOn(
  store: PreparedQueries,
  db: AnyPgDatabase,
  schema: string,
  prepare: boolean,
): PreparedQueries {
  const client = (db as unknown as { session?: { client?: unknown } }).session?.client;
  const onConnection = new Map<PropertyKey, unknown>();
  let built: PreparedQueries | undefined;
  return new Proxy(store, {
    get: (_, name) => {
      let statement = onConnection.get(name);
      if (statement === undefined) {
        const own = store[name as keyof PreparedQueries];
        if (client !== undefined && Object.hasOwn(own, "client")) {
          statement = Object.create(own, { client: { value: client }, ...ownConfigs(own) });
        } else {
          built ??= prepareQueries(db, schema, prepare);
          statement = built[name as keyof PreparedQueries];
        }
        onConnection.set(name, statement);
      }
      return statement;
    },
  });
}
