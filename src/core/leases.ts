import { StoreError } from "./errors.js";
import { checkLease } from "./input.js";
import type { Lease } from "./types.js";

/** What a lease is held in: rows of `workflow_store_leases`, or the memory store's map. */
export interface LeaseBackend {
  /** Takes the lease when nobody holds it or it expired: its new token and expiry, or `null` while another holds it. */
  acquire(name: string, ttlMs: number): Promise<{ token: number; expiresAt: Date } | null>;
  /** Extends the lease held with `token` by `ttlMs` from now: the new expiry, or `null` once it expired or went to another. */
  renew(name: string, token: number, ttlMs: number): Promise<Date | null>;
  /** Gives up the lease held with `token`; nothing when it is no longer that holder's. */
  release(name: string, token: number): Promise<void>;
}

/** A lease one holder took: its token names it in the backend, so that nothing it does touches a later holder's. */
class HeldLease implements Lease {
  readonly name: string;
  readonly token: number;
  readonly #backend: LeaseBackend;
  readonly #ttlMs: number;
  // Writable here, read-only through `Lease`: only `renew` moves it.
  expiresAt: Date;
  /** Set as soon as `release` is called, so that a `renew` racing it cannot keep the lease. */
  #released: Promise<void> | undefined;

  constructor(backend: LeaseBackend, name: string, ttlMs: number, token: number, expiresAt: Date) {
    this.#backend = backend;
    this.name = name;
    this.#ttlMs = ttlMs;
    this.token = token;
    this.expiresAt = expiresAt;
  }

  async renew(): Promise<void> {
    const site = { op: "renewLease", key: this.name } as const;
    if (this.#released !== undefined) throw new StoreError("CONFLICT", site, "the lease was released");
    const expiresAt = await this.#backend.renew(this.name, this.token, this.#ttlMs);
    if (expiresAt === null) {
      throw new StoreError(
        "CONFLICT",
        site,
        `the lease with token ${this.token} expired, was released or went to another holder; acquire it again`,
      );
    }
    this.expiresAt = expiresAt;
  }

  release(): Promise<void> {
    this.#released ??= this.#backend.release(this.name, this.token).catch((error: unknown) => {
      // Not released after all (the connection failed, say): a later call may try again.
      this.#released = undefined;
      throw error;
    });
    return this.#released;
  }
}

/**
 * {@link Store.acquireLease} over a backend: checks the arguments (`INVALID_ARGUMENT`, before
 * anything is sent), then takes the lease, or resolves `null` while another holder has it.
 */
export async function acquireLease(backend: LeaseBackend, name: unknown, options: unknown): Promise<Lease | null> {
  const ttlMs = checkLease(name, options);
  const held = await backend.acquire(name as string, ttlMs);
  return held === null ? null : new HeldLease(backend, name as string, ttlMs, held.token, held.expiresAt);
}
