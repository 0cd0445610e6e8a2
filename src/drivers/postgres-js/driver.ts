import type { Driver } from "../contract.js";
import { listenPostgresJs, type PostgresJsClient } from "./listen.js";

/** postgres.js: a pool of `max` connections, and a listening connection of its own. */
export const postgresJs: Driver = {
  session: "PostgresJsSession",
  connections: (client) => {
    const max = (client as { options?: { max?: unknown } } | undefined)?.options?.max;
    return typeof max === "number" && Number.isInteger(max) && max > 0 ? max : undefined;
  },
  listener: (client, channel) =>
    typeof (client as PostgresJsClient | undefined)?.listen === "function"
      ? listenPostgresJs(client as PostgresJsClient, channel)
      : undefined,
};
