import { Column, is, SQL } from "drizzle-orm";
import type { AnyPgDatabase } from "../../drivers/contract.js";
import { changeStatements } from "./changes.js";
import { type StatementSettings, statementContext } from "./context.js";
import { leaseStatements } from "./leases.js";
import { pageStatements } from "./pages.js";
import { purgeStatements } from "./purge.js";
import { revisionStatements } from "./revisions.js";
import { valueStatements } from "./values.js";

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
 * per row (its `mapResultRow`), which costs a page of 100,000 keys more than the driver takes to read
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
 * every call, each the first time it is needed, on the tables of the given PostgreSQL schema.
 */
export function prepareQueries(db: AnyPgDatabase, settings: StatementSettings) {
  const context = statementContext(db, settings);
  return preparedOnFirstUse({
    ...valueStatements(context),
    ...pageStatements(context),
    ...revisionStatements(context),
    ...changeStatements(context),
    ...leaseStatements(context),
    ...purgeStatements(context),
  });
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
 * transaction's connection, rather than built again per transaction (Drizzle's query building
 * costs more than a round trip, for the same text). Every Drizzle PostgreSQL driver's
 * prepared statement sends through its `client`, and a transaction's session holds the
 * transaction's; where either is not there, the statements are built on the transaction's database.
 */
export function queriesOn(store: PreparedQueries, db: AnyPgDatabase, settings: StatementSettings): PreparedQueries {
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
          built ??= prepareQueries(db, settings);
          statement = built[name as keyof PreparedQueries];
        }
        onConnection.set(name, statement);
      }
      return statement;
    },
  });
}
