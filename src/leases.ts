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

/** {@link Store.acquireLease} over a backend: checks the arguments, then takes the lease. */
export async function acquireLease(_backend: LeaseBackend, _name: unknown, _options: unknown): Promise<Lease | null> {
  throw new Error("acquireLease: not built yet");
}
