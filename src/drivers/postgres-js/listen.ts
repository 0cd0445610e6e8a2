import type { Listen } from "../contract.js";
import { isRefusedLogin, RECONNECT_BOUND_MS } from "../reconnect.js";

/** The parts of a postgres.js `Sql` listening needs. */
export interface PostgresJsClient {
  (strings: TemplateStringsArray, ...values: unknown[]): Promise<unknown[]>;
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen?: () => void,
  ): Promise<{ unlisten(): Promise<unknown>; state: { pid?: number } }>;
}

/** How often the listening connection's session is looked for, and how long it may be missing. */
const PROBING = { everyMs: 5000, boundMs: RECONNECT_BOUND_MS };

/**
 * postgres.js keeps one listening connection per `Sql` and reconnects it by itself, calling
 * `onListen` again each time it listens anew. When the store opened the pool, ending the store
 * ends that connection; on an app's own `Sql` it stays open (unlistened) until the app ends it.
 *
 * It also tries again without end, and tells nobody, when the connection cannot be opened again
 * (a role that may no longer log in, say). So the listening session is looked for every few
 * seconds, through the pool: a login the server refuses for good, or a session missing for a
 * minute, ends listening with that error.
 */
export function listenPostgresJs(client: PostgresJsClient, channel: string, probing = PROBING): Listen {
  return async (onPayload, onGap, onFail) => {
    let active = true;
    let listening = false;
    try {
      const { unlisten, state } = await client.listen(
        channel,
        (payload) => {
          if (active) onPayload(payload);
        },
        () => {
          if (active && listening) onGap();
          listening = true;
        },
      );
      const stopProbing = probeSession(client, state, probing, (error) => {
        if (!active) return;
        active = false;
        unlisten().catch(() => {});
        onFail(error);
      });
      return async () => {
        active = false;
        stopProbing();
        await unlisten();
      };
    } catch (error) {
      // postgres.js keeps a failed listener and listens for it once it connects: ignore it then.
      active = false;
      throw error;
    }
  };
}

/**
 * Looks for the listening session (`state.pid`, which postgres.js moves to the new session when it
 * listens again) every `everyMs`; calls `onLost` with the error that ends listening. Returns what
 * stops looking.
 */
function probeSession(
  client: PostgresJsClient,
  state: { pid?: number },
  { everyMs, boundMs }: typeof PROBING,
  onLost: (error: unknown) => void,
): () => void {
  let missingSince: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const look = async () => {
    try {
      const rows = await client`select 1 from pg_stat_activity where pid = ${state.pid ?? 0}`;
      missingSince = rows.length > 0 ? undefined : (missingSince ?? Date.now());
      if (missingSince !== undefined && Date.now() - missingSince > boundMs) {
        throw new Error(`the listening connection was lost and could not be opened again for ${boundMs / 1000} s`);
      }
    } catch (error) {
      missingSince ??= Date.now();
      if (isRefusedLogin(error) || Date.now() - missingSince > boundMs) {
        if (!stopped) onLost(error);
        return;
      }
    }
    if (!stopped) schedule();
  };
  const schedule = () => {
    timer = setTimeout(look, everyMs);
    timer.unref();
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
