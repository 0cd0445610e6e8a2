import type { Driver } from "../contract.js";
import { listenPgClient, listenPgPool, type PgClient, type PgPool } from "./listen.js";

/** A node-postgres `Pool` makes its clients with a class it keeps; a `Client` has its connection's parameters. */
function isPool(client: unknown): client is PgPool {
  return typeof (client as Partial<PgPool> | undefined)?.Client === "function";
}

function isClient(client: unknown): client is PgClient {
  return typeof (client as { connectionParameters?: unknown } | undefined)?.connectionParameters === "object";
}

/** node-postgres: a `Pool` of `options.max` connections, or a single `Client` whose queries wait their turn. */
export const nodePostgres: Driver = {
  session: "NodePgSession",
  connections: (client) => {
    if (isClient(client)) return 1;
    const max = (client as { options?: { max?: unknown } } | undefined)?.options?.max;
    return isPool(client) && typeof max === "number" && Number.isInteger(max) && max > 0 ? max : undefined;
  },
  listener: (client, channel) => {
    if (isPool(client)) return listenPgPool(client, channel);
    if (isClient(client)) return listenPgClient(client, channel);
    return undefined;
  },
};
