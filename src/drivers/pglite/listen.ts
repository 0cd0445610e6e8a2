import type { Listen } from "../contract.js";

/** The parts of PGlite listening needs. */
export interface PgliteClient {
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}

/** PGlite: notifications of its one session, in process; there is no connection to lose. */
export function listenPglite(client: PgliteClient, channel: string): Listen {
  return async (onPayload) => {
    const unlisten = await client.listen(channel, onPayload);
    return async () => {
      // A PGlite closed already listens no more.
      await unlisten().catch(() => {});
    };
  };
}
