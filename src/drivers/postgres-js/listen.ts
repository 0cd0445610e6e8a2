import type { Listen } from "../contract.js";

/** The parts of a postgres.js `Sql` listening needs. */
export interface PostgresJsClient {
  (...args: never[]): unknown;
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen?: () => void,
  ): Promise<{ unlisten(): Promise<unknown> }>;
}

/**
 * postgres.js keeps one listening connection per `Sql` and reconnects it by itself, calling
 * `onListen` again each time it listens anew. When the store opened the pool, ending the store
 * ends that connection; on an app's own `Sql` it stays open (unlistened) until the app ends it.
 */
export function listenPostgresJs(client: PostgresJsClient, channel: string): Listen {
  return async (onPayload, onGap) => {
    let active = true;
    let listening = false;
    try {
      const { unlisten } = await client.listen(
        channel,
        (payload) => {
          if (active) onPayload(payload);
        },
        () => {
          if (active && listening) onGap();
          listening = true;
        },
      );
      return async () => {
        active = false;
        await unlisten();
      };
    } catch (error) {
      // postgres.js keeps a failed listener and listens for it once it connects: ignore it then.
      active = false;
      throw error;
    }
  };
}
