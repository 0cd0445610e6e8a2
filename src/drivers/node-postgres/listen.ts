import type { Listen } from "../contract.js";
import { isRefusedLogin, RECONNECT_BOUND_MS } from "../reconnect.js";

/** The parts of a node-postgres `Client` listening needs. */
export interface PgClient {
  connect(): Promise<unknown>;
  query(text: string): Promise<unknown>;
  end(): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/** The parts of a node-postgres `Pool` listening needs: the class of its clients and their options. */
export interface PgPool {
  Client: new (options: unknown) => PgClient;
  options: unknown;
}

/** The wait before reconnecting a listening connection: 25 ms doubling to 2 s, with jitter. */
function reconnectDelayMs(failedAttempts: number): number {
  return Math.min(50 * 2 ** failedAttempts, 2000) * (0.5 + Math.random() / 2);
}

/** Connects a client and listens on it; ends it if either fails. */
async function connectListening(client: PgClient, channel: string): Promise<void> {
  try {
    await client.connect();
    await client.query(`LISTEN ${channel}`);
  } catch (error) {
    client.end().catch(() => {});
    throw error;
  }
}

function notificationHandler(channel: string, onPayload: (payload: string) => void) {
  return (message: { channel?: string; payload?: string }) => {
    if (message.channel === channel && typeof message.payload === "string") onPayload(message.payload);
  };
}

/**
 * A pool: a client of the pool's class and options, outside the pool, so that it takes none of the
 * app's connections (a pool of one would otherwise never answer the watch's own reads). Lost, it is
 * replaced, with a growing wait between failed attempts, and `onGap` is called once the new one
 * listens. A refused login, or attempts failing for a minute, end it: `onFail` gets the last error.
 */
export function listenPgPool(pool: PgPool, channel: string): Listen {
  return async (onPayload, onGap, onFail) => {
    let stopped = false;
    let current: PgClient | undefined;
    let failures = 0;
    let failingSince = 0;
    let timer: NodeJS.Timeout | undefined;
    const onNotification = notificationHandler(channel, onPayload);
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
      await connectListening(client, channel);
      return client;
    };
    /** Listens on `client` from now on; one lost before it got here is replaced at once. */
    const adopt = (client: PgClient) => {
      current = client;
      if (!ended.has(client)) return;
      current = undefined;
      reconnect();
    };
    const giveUp = (error: unknown) => isRefusedLogin(error) || Date.now() - failingSince > RECONNECT_BOUND_MS;
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
        } catch (error) {
          if (failures++ === 0) failingSince = Date.now();
          if (stopped) return;
          if (giveUp(error)) {
            stopped = true;
            onFail(error);
          } else reconnect();
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
 * A single client (the app's own connection): it listens on it, between the app's queries. A client
 * cannot reconnect, so when it ends the watches are told of a gap, and their read of storage fails
 * with the client's error.
 */
export function listenPgClient(client: PgClient, channel: string): Listen {
  return async (onPayload, onGap) => {
    const onNotification = notificationHandler(channel, onPayload);
    const onEnd = () => onGap();
    client.on("notification", onNotification);
    client.on("end", onEnd);
    const detach = () => {
      client.removeListener("notification", onNotification);
      client.removeListener("end", onEnd);
    };
    try {
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      detach();
      throw error;
    }
    return async () => {
      detach();
      await client.query(`UNLISTEN ${channel}`).catch(() => {});
    };
  };
}
