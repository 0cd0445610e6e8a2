import { type ErrorSite, StoreError } from "../core/errors.js";
import { pause } from "../core/pause.js";
import type { Listen } from "../drivers/contract.js";
import { translateError } from "./translate.js";

/**
 * A store's one listening connection on the changes channel, shared by all its watches: every
 * notification wakes every watch, which reads its prefix's changes (a notification carries
 * nothing, and does not say which prefix changed).
 */
export interface Notifications {
  /**
   * Calls `onWake` on each notification; resolves once listening (opening the connection for the
   * first watch). `onWake` is also called after the connection was lost and listens again (some
   * notifications may have been missed), when listening failed for good, and when `close()` ends
   * delivery. Resolves with what ends this subscription; the connection is let go when the last
   * subscription ends.
   */
  subscribe(site: ErrorSite, onWake: () => void): Promise<() => void>;
  /**
   * Why listening ended for good (its connection could not be opened again), until a later
   * subscription listens anew: the watches' reads fail with it, which ends them.
   */
  readonly failure: StoreError | undefined;
  /** Wakes every subscription, as a notification would. */
  wake(): void;
  /** Ends listening; later subscriptions fail with `CLOSED`. */
  close(): Promise<void>;
}

/** How long stopping waits for a driver to let its listening connection go. */
const STOP_WAIT_MS = 2000;

class SharedNotifications implements Notifications {
  readonly #listen: Listen;
  readonly #subscribers = new Set<() => void>();
  #closed = false;
  #failure: StoreError | undefined;
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

  get failure(): StoreError | undefined {
    return this.#failure;
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
        const stop = await this.#listen(
          () => this.#wakeAll(),
          () => this.#wakeAll(),
          (error) => {
            if (this.#stop !== stop) return;
            this.#stop = undefined;
            this.#failure = translateError(error, { op: "watch" });
            this.#wakeAll();
          },
        );
        this.#stop = stop;
        this.#failure = undefined;
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
 * The notifications of a driver's listener (see {@link Driver.listener}); throws a `CONFIG`
 * `StoreError` at `site` when there is none (a Drizzle transaction's database, another driver).
 * Nothing is opened until the first subscription.
 *
 * LISTEN needs a session of its own: behind a transaction-mode pooler (PgBouncer, Supavisor) the
 * listening connection must go to the server directly, or no notification arrives.
 */
export function notificationsOf(listen: Listen | undefined, site: ErrorSite): Notifications {
  if (listen === undefined) {
    throw new StoreError(
      "CONFIG",
      site,
      "watch needs a driver that can LISTEN: a Drizzle database over postgres.js, node-postgres (a pool or a client) or PGlite",
    );
  }
  return new SharedNotifications(listen);
}
