import type { Driver } from "../contract.js";
import { listenPglite, type PgliteClient } from "./listen.js";

/** PGlite: one session in the process, which runs one statement at a time. */
export const pglite: Driver = {
  session: "PgliteSession",
  connections: (client) => (typeof client === "object" && client !== null ? 1 : undefined),
  listener: (client, channel) =>
    typeof (client as PgliteClient | undefined)?.listen === "function"
      ? listenPglite(client as PgliteClient, channel)
      : undefined,
};
