import { type ErrorSite, StoreError } from "../core/errors.js";
import { pause } from "../core/pause.js";
import { CHANGES_CHANNEL } from "../schema.js";
import { translateError } from "./translate.js";

/**
 * The channel writes of watched prefixes notify on (migration 0005). A notification carries
 * nothing: it only tells listeners to read what changed, with their own privileges.
 */
const CHANNEL = CHANGES_CHANNEL;

/**
 * A store's one listening connection on {@link CHANNEL}, shared by all its watches: every
 * notification wakes every watch, which reads its prefix's changes (a notification does not say
 * which prefix changed).
 */
export interface Notifications {
  /**
   * Calls `onWake` on each notification; resolves once listening (opening the connection for the
   * first watch). `onWake` is also called after the connection was lost and listens again (some
   * notifications may have been missed), and when `close()` ends delivery. Resolves with what ends
   * this subscription; the connection is let go when the last subscription ends.
   */
  subscribe(site: ErrorSite, onWake: () => void): Promise<() => void>;
  /** Wakes every subscription, as a notification would. */
  wake(): void;
  /** Ends listening; later subscriptions fail with `CLOSED`. */
  close(): Promise<void>;
}

/**
 * Listens on {@link CHANNEL} with one driver: calls `onPayload` with each notification's payload
 * and `onGap` when some may have been missed (the connection was lost, and listens again or never
 * will). Resolves once listening, with what stops it.
 */
type Listen = (onPayload: (payload: string) => void, onGap: () => void) => Promise<() => Promise<void>>;

/** How long stopping waits for a driver to let its listening connection go. */
const STOP_WAIT_MS = 2000;

/** The wait before reconnecting a listening connection of node-postgres: 25 ms doubling to 2 s, with jitter. */
function reconnectDelayMs(failedAttempts: number): number {
  return Math.min(50 * 2 ** failedAttempts, 2000) * (0.5 + Math.random() / 2);
}

/** The parts of a postgres.js `Sql` listening needs. */
interface PostgresJsClient {
  (...args: never[]): unknown;
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen?: () => void,
  ): Promise<{ unlisten(): Promise<unknown> }>;
}

/** The parts of a node-postgres `Client` listening needs. */
interface PgClient {
  connect(): Promise<unknown>;
  query(text: string): Promise<unknown>;
  end(): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/** The parts of a node-postgres `Pool` listening needs: the class of its clients and their options. */
interface PgPool {
  Client: new (options: unknown) => PgClient;
  options: unknown;
}

/** The parts of PGlite listening needs. */
interface PgliteClient {
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}

function hasMethods(value: unknown, ...names: string[]): boolean {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    names.every((name) => typeof (value as Record<string, unknown>)[name] === "function")
  );
}

/**
 * postgres.js keeps one listening connection per `Sql` and reconnects it by itself, calling
 * `onListen` again each time it listens anew. When the store opened the pool, ending the store
 * ends that connection; on an app's own `Sql` it stays open (unlistened) until the app ends it.
 */
function listenPostgresJs(client: PostgresJsClient): Listen {
  return async (onPayload, onGap) => {
    let active = true;
    let listening = false;
    try {
      const { unlisten } = await client.listen(
        CHANNEL,
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

/** Connects a node-postgres client and listens on it; ends it if either fails. */
async function connectListening(client: PgClient): Promise<void> {
  try {
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
  } catch (error) {
    client.end().catch(() => {});
    throw error;
  }
}

function notificationHandler(onPayload: (payload: string) => void) {
  return (message: { channel?: string; payload?: string }) => {
    if (message.channel === CHANNEL && typeof message.payload === "string") onPayload(message.payload);
  };
}

/**
 * A node-postgres pool: a client of the pool's class and options, outside the pool, so that it
 * takes none of the app's connections (a pool of one would otherwise never answer the watch's
 * own reads). Lost, it is replaced, with a growing wait between failed attempts, and `onGap` is
 * called once the new one listens.
 */
function listenPgPool(pool: PgPool): Listen {
  return async (onPayload, onGap) => {
    let stopped = false;
    let current: PgClient | undefined;
    let failures = 0;
    let timer: NodeJS.Timeout | undefined;
    const onNotification = notificationHandler(onPayload);
    const ended = new WeakSet<PgClient>();

    const open = async (): Promise<PgClient> => {
      const client = new pool.Client(pool.options);
      // The connection's loss is handled on "end"; without a listener, "error" would end the process.
      client.on("error", () => {});
      client.on("notification", onNotification);
      client.on("end", () => {
        ended.add(client);
        if (current !== client || stopped) return;
        current = undefined;
        reconnect();
      });
      await connectListening(client);
      return client;
    };
    /** Listens on `client` from now on; one lost before it got here is replaced at once. */
    const adopt = (client: PgClient) => {
      current = client;
      if (!ended.has(client)) return;
      current = undefined;
      reconnect();
    };
    const reconnect = () => {
      timer = setTimeout(async () => {
        timer = undefined;
        if (stopped) return;
        try {
          const client = await open();
          if (stopped) {
            await client.end().catch(() => {});
            return;
          }
          failures = 0;
          adopt(client);
          onGap();
        } catch {
          failures++;
          if (!stopped) reconnect();
        }
      }, reconnectDelayMs(failures));
    };

    adopt(await open());
    return async () => {
      stopped = true;
      clearTimeout(timer);
      const client = current;
      current = undefined;
      await client?.end();
    };
  };
}

/**
 * A single node-postgres client (the app's own connection): it listens on it, between the app's
 * queries. A client cannot reconnect, so when it ends the watches are told of a gap, and their
 * read of storage fails with the client's error.
 */
function listenPgClient(client: PgClient): Listen {
  return async (onPayload, onGap) => {
    const onNotification = notificationHandler(onPayload);
    const onEnd = () => onGap();
    client.on("notification", onNotification);
    client.on("end", onEnd);
    const detach = () => {
      client.removeListener("notification", onNotification);
      client.removeListener("end", onEnd);
    };
    try {
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      detach();
      throw error;
    }
    return async () => {
      detach();
      await client.query(`UNLISTEN ${CHANNEL}`).catch(() => {});
    };
  };
}

/** PGlite: notifications of its one session, in process; there is no connection to lose. */
function listenPglite(client: PgliteClient): Listen {
  return async (onPayload) => {
    const unlisten = await client.listen(CHANNEL, onPayload);
    return async () => {
      // A PGlite closed already listens no more.
      await unlisten().catch(() => {});
    };
  };
}

/** How a driver's client listens, or `undefined` when it cannot. */
function listenerOf(client: unknown): Listen | undefined {
  // postgres.js's Sql (or the store's proxy over it) is a tagged-template function.
  if (typeof client === "function" && hasMethods(client, "listen")) return listenPostgresJs(client as PostgresJsClient);
  if (hasMethods(client, "connect") && hasMethods((client as PgPool).Client)) {
    return listenPgPool(client as PgPool);
  }
  if (hasMethods(client, "listen")) return listenPglite(client as PgliteClient);
  if (hasMethods(client, "connect", "query", "on", "removeListener", "end")) return listenPgClient(client as PgClient);
  return undefined;
}

class SharedNotifications implements Notifications {
  readonly #listen: Listen;
  readonly #subscribers = new Set<() => void>();
  #closed = false;
  /** What stops listening, while listening. */
  #stop: (() => Promise<void>) | undefined;
  /** Starting and stopping run one after another. */
  #transitions: Promise<void> = Promise.resolve();

  constructor(listen: Listen) {
    this.#listen = listen;
  }

  async subscribe(site: ErrorSite, onWake: () => void): Promise<() => void> {
    if (this.#closed) throw new StoreError("CLOSED", site, "the store is closed");
    // Each subscription its own entry, even for the same function.
    const subscriber = () => onWake();
    this.#subscribers.add(subscriber);
    const unsubscribe = () => {
      if (!this.#subscribers.delete(subscriber)) return;
      // Nobody waits for the stop; a failure to stop only means the connection ends with the store.
      this.#settle().catch(() => {});
    };
    try {
      await this.#settle();
    } catch (error) {
      unsubscribe();
      throw translateError(error, site);
    }
    if (this.#closed) {
      unsubscribe();
      throw new StoreError("CLOSED", site, "the store is closed");
    }
    return unsubscribe;
  }

  wake(): void {
    this.#wakeAll();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeAll();
    this.#subscribers.clear();
    await this.#settle().catch(() => {});
  }

  /** Listens while there are subscribers and the store is open, and stops otherwise. */
  #settle(): Promise<void> {
    const step = this.#transitions.then(async () => {
      const wanted = this.#subscribers.size > 0 && !this.#closed;
      if (wanted && this.#stop === undefined) {
        this.#stop = await this.#listen(
          () => this.#wakeAll(),
          () => this.#wakeAll(),
        );
      } else if (!wanted && this.#stop !== undefined) {
        const stop = this.#stop;
        this.#stop = undefined;
        // An UNLISTEN on a connection that is down would wait for it to come back: close does not.
        await Promise.race([stop(), pause(STOP_WAIT_MS)]);
      }
    });
    this.#transitions = step.catch(() => {});
    return step;
  }

  #wakeAll(): void {
    for (const subscriber of [...this.#subscribers]) subscriber();
  }
}

/**
 * The notifications of a Drizzle database's client: postgres.js (`sql.listen`, its own listening
 * connection, which it reconnects), node-postgres (for a pool, a client of the pool's class and
 * options outside the pool, reconnected with backoff; a single client listens itself), PGlite
 * (`listen`, in process). Throws a `CONFIG` `StoreError` at `site` when the client cannot listen
 * (a Drizzle transaction's, say). Nothing is opened until the first subscription.
 *
 * LISTEN needs a session of its own: behind a transaction-mode pooler (PgBouncer, Supavisor) the
 * listening connection must go to the server directly, or no notification arrives.
 */
export function notificationsOf(client: unknown, site: ErrorSite): Notifications {
  const listen = listenerOf(client);
  if (listen === undefined) {
    throw new StoreError(
      "CONFIG",
      site,
      "watch needs a driver that can LISTEN: a Drizzle database over postgres.js, node-postgres (a pool or a client) or PGlite",
    );
  }
  return new SharedNotifications(listen);
}
