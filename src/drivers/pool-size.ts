/**
 * How many statements the driver's client under an app's Drizzle database runs at once, for the
 * `batch` option: the pool's `max` of postgres.js and of a node-postgres `Pool` (both keep it in
 * `options.max`), 1 for PGlite and for a single node-postgres `Client`. Undefined when it cannot
 * tell (a Drizzle transaction has no client of its own, another driver): such a store does not batch.
 */
export function connectionsOf(client: unknown): number | undefined {
  if ((typeof client !== "object" && typeof client !== "function") || client === null) return undefined;
  const max = (client as { options?: { max?: unknown } }).options?.max;
  if (typeof max === "number" && Number.isInteger(max) && max > 0) return max;
  const single = client as { exec?: unknown; listen?: unknown; query?: unknown; connectionParameters?: unknown };
  // PGlite runs one statement at a time.
  if (typeof single.exec === "function" && typeof single.listen === "function") return 1;
  // A node-postgres Client: one connection, whose queries wait their turn.
  if (typeof single.query === "function" && typeof single.connectionParameters === "object") return 1;
  return undefined;
}
