/**
 * The statements the raw paths send, to `plain_store`: a table of the store's shape (columns,
 * primary key, byte-order index) without triggers. The floors are what a user would write instead:
 * the simplest SQL for each call. The store's own statements, taken from the store's statement builders as Drizzle
 * writes them with the table renamed, stay beside them as a labelled path, to tell the cost of the
 * store's SQL from the cost of its client.
 */
import { fillPlaceholders } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { setRowsParameters } from "../src/postgres/statements/parameters.js";
import { type PreparedQueries, prepareQueries } from "../src/postgres/statements/prepare.js";
import { DEFAULT_SCHEMA } from "../src/schema.js";

/** The largest value the store reads, its default maxValueBytes. */
export const MAX_BYTES = 64 * 1024 * 1024;

/** A statement of the store: its text, and its parameters from the placeholders' values. */
export interface Statement {
  text: string;
  params(values: Record<string, unknown>): unknown[];
}

const queries = prepareQueries(drizzle.mock(), { schema: DEFAULT_SCHEMA, prepare: false, partitioned: false });

/** The plain table beside the store's: its columns, primary key and byte-order index, no triggers. */
export const PLAIN_TABLE = `
  create table if not exists plain_store (
    prefix varchar(255) not null, key varchar(255) not null, value bytea,
    created_at timestamptz default now(), updated_at timestamptz default now(),
    revision bigint not null default 0, primary key (prefix, key));
  create index if not exists plain_store_prefix_key_bytes on plain_store (prefix, (key collate "C"))`;

/** The channel the raw paths notify their own writes on, with `[prefix, key]` as JSON. */
export const PLAIN_CHANNEL = "plain_store";

/** $1 the payload: what a user who wants to be told of a write sends beside it. */
export const NOTIFY = `select pg_notify('${PLAIN_CHANNEL}', $1)`;

function statement(name: keyof PreparedQueries): Statement {
  const query = queries[name].getQuery();
  return {
    text: query.sql.replaceAll('"workflow_store"', '"plain_store"'),
    params: (values) => fillPlaceholders(query.params, { maxBytes: MAX_BYTES, ...values }),
  };
}

/** $1 prefix, $2 key. */
export const GET = `select "value" from "plain_store" where "prefix" = $1 and "key" = $2`;
/** $1 prefix, $2 key, $3 value. */
export const SET = `insert into "plain_store" ("prefix", "key", "value") values ($1, $2, $3)
  on conflict ("prefix", "key") do update set "value" = excluded."value", "updated_at" = now()`;
/** $1 prefix, $2 key. */
export const REMOVE = `delete from "plain_store" where "prefix" = $1 and "key" = $2`;
/** $1 prefix, $2 keys (an array). */
export const GET_MANY = `select "key", "value" from "plain_store" where "prefix" = $1 and "key" = any($2)`;
/** $1 prefix, $2 limit: the first page of keys in byte order. */
export const KEYS_FIRST = `select "key" from "plain_store" where "prefix" = $1 order by "key" collate "C" limit $2`;
/** $1 prefix, $2 after, $3 limit: the page of keys after a key, in byte order. */
export const KEYS_AFTER = `select "key" from "plain_store" where "prefix" = $1 and "key" collate "C" > $2
  order by "key" collate "C" limit $3`;

/** The store's own get and set statements, on the plain table. */
export const STORE_GET = statement("get");
export const STORE_SET = statement("set");
/** Seeding's clearing, unmeasured: every row of a prefix. */
export const REMOVE_PREFIX = statement("removePrefix");

/** The store's multi-row upsert, for seeding; its values from {@link rowsOf}. */
export const SET_ROWS = statement("setRows");

/** The values of {@link SET_ROWS} for rows of one prefix. */
export function rowsOf(prefix: string, rows: readonly [string, Buffer][]): Record<string, unknown> {
  return setRowsParameters(
    rows.map(() => prefix),
    rows.map(([key]) => key),
    rows.map(([, value]) => value),
  );
}

/** $1 prefix: the floor of a `keys` walk, every key in one query. */
export const ALL_KEYS = `select "key" from "plain_store" where "prefix" = $1 order by "key" collate "C"`;

/** $1 prefix: the floor of an `entries` walk, every row in one query. */
export const ALL_ENTRIES = `select "key", "value", "created_at", "updated_at" from "plain_store"
  where "prefix" = $1 and "value" is not null order by "key" collate "C"`;

/**
 * $1 prefix, $2 key, $3 value: a counter's row with its first value, unless it has one. The first
 * statement of the pessimistic increment, the floor of compare-and-set.
 */
export const COUNTER_CREATE = `insert into "plain_store" ("prefix", "key", "value", "created_at", "updated_at")
  values ($1, $2, $3, now(), now()) on conflict do nothing`;

/** $1 prefix, $2 key: the counter's value, its row locked until the transaction ends. */
export const COUNTER_LOCK = `select "value" from "plain_store" where "prefix" = $1 and "key" collate "C" = $2 for update`;

/** $1 prefix, $2 key, $3 value: the counter's new value. */
export const COUNTER_UPDATE = `update "plain_store" set "value" = $3, "updated_at" = now()
  where "prefix" = $1 and "key" collate "C" = $2`;
