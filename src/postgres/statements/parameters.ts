import { makePgArray } from "drizzle-orm/pg-core";

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
