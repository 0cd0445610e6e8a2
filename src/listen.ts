import type { ErrorSite } from "./errors.js";
import type { WatchEvent } from "./types.js";

/**
 * A store's one listening connection on the channel the triggers of migration 0004 notify, shared
 * by all its watches: it dispatches each change to the watches of its schema and prefix.
 */
export interface Notifications {
  /**
   * Delivers the changes of `prefix` in `schema` to `onChange` in commit order; resolves once
   * listening (opening the connection for the first watch). `onGap` is called after the connection
   * was lost and listens again. Resolves with what ends this subscription.
   */
  subscribe(
    schema: string,
    prefix: string,
    onChange: (event: WatchEvent) => void,
    onGap: () => void,
  ): Promise<() => void>;
  /** Ends listening; later subscriptions fail with `CLOSED`. */
  close(): Promise<void>;
}

/**
 * The notifications of a Drizzle database's client: postgres.js (`sql.listen`), node-postgres (a
 * connection of the pool of its own, or the client itself), PGlite (`listen`). Throws a
 * `StoreError` at `site` when the client cannot listen (a transaction's, say).
 */
export function notificationsOf(_client: unknown, _site: ErrorSite): Notifications {
  throw new Error("notifications: not built yet");
}
