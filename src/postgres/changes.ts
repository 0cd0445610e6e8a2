import type { WatchEvent } from "../core/types.js";
import type { ChangeSource } from "../core/watch.js";
import type { Listen } from "../drivers/contract.js";
import type { Calls } from "./calls.js";
import { type Notifications, notificationsOf } from "./notifications.js";
import { arrayParameter } from "./statements/parameters.js";
import type { PreparedQueries } from "./statements/prepare.js";
import { settle, WatchedPrefixes } from "./watched-prefixes.js";

/**
 * The one listening connection of a store and of its transactions' backends, opened by the first
 * watch, and the prefixes they watch.
 */
export interface Listening {
  current?: Notifications;
  readonly watched: WatchedPrefixes;
  /** How the driver under the store's database listens; `undefined` when it cannot. */
  readonly listen: Listen | undefined;
}

/**
 * The listening of a store: its prefixes are marked through the store's own statements, never a
 * transaction's (whose marks nobody would see before it commits, and which ends). A renewal wakes
 * every watch of the store.
 */
export function listeningOf(listen: Listen | undefined, queries: () => PreparedQueries, calls: Calls): Listening {
  const listening: Listening = {
    listen,
    watched: new WatchedPrefixes(
      async (prefixes, watcher, seconds) => {
        await calls.run({ op: "watch", prefix: prefixes.length === 1 ? prefixes[0] : undefined }, () =>
          queries().watchPrefixes.execute({ prefixes: arrayParameter(prefixes), watcher, seconds }),
        );
      },
      () => listening.current?.wake(),
    ),
  };
  return listening;
}

/**
 * Watches read changes with the backend's statements, woken by the store's listening connection;
 * the prefixes they watch are marked through the store (see {@link listeningOf}).
 */
export function changesIn(listening: Listening, queries: () => PreparedQueries, calls: Calls): ChangeSource {
  return {
    subscribe: async (prefix, onWake) => {
      const site = { op: "watch", prefix } as const;
      listening.current ??= notificationsOf(listening.listen, site);
      const notifications = listening.current;
      const state = await listening.watched.add(prefix);
      try {
        const stopWaking = await notifications.subscribe(site, onWake);
        return {
          waiting: () => state.waiting(),
          reading: () => state.reading(),
          stop: () => {
            stopWaking();
            state.end();
          },
        };
      } catch (error) {
        state.end();
        throw error;
      }
    },
    settled: (prefix, signal) =>
      settle(async () => {
        // Listening that ended for good ends the watches, through their reads.
        const failure = listening.current?.failure;
        if (failure !== undefined) throw failure;
        const [row] = await calls.run({ op: "watch", prefix }, () => queries().horizon.execute({ prefix }));
        return { revision: row?.revision ?? 0, writers: row?.writers ? row.writers.split(",") : [] };
      }, signal),
    changesAfter: async (prefix, after, through, limit) => {
      const rows = await calls.run({ op: "watch", prefix }, () =>
        queries().changesAfter.execute({ prefix, after, through, limit }),
      );
      return rows.map(
        ({ type, key, lastKey, revision }): WatchEvent =>
          type === "removeRange" ? { type, key, lastKey: lastKey ?? key, revision } : { type, key, revision },
      );
    },
    compactedRevision: async () => {
      const [row] = await calls.run({ op: "watch" }, () => queries().compactedRevision.execute());
      return row?.revision ?? 0;
    },
  };
}
