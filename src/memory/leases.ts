import type { LeaseBackend } from "../core/leases.js";
import type { MemoryChanges } from "./changes.js";

/** Leases by name, with the holder's token and when it expires (ms since the epoch). */
export type MemoryLeases = Map<string, { token: number; expiresAt: number }>;

/** Leases in a map, with tokens from the change log's revisions, as PostgreSQL draws them from its sequence. */
export function leasesIn(leases: MemoryLeases, changes: MemoryChanges): LeaseBackend {
  return {
    acquire: async (name, ttlMs) => {
      const now = Date.now();
      const held = leases.get(name);
      if (held !== undefined && held.expiresAt > now) return null;
      const lease = { token: changes.next(), expiresAt: now + ttlMs };
      leases.set(name, lease);
      return { token: lease.token, expiresAt: new Date(lease.expiresAt) };
    },
    renew: async (name, token, ttlMs) => {
      const now = Date.now();
      const held = leases.get(name);
      if (held === undefined || held.token !== token || held.expiresAt <= now) return null;
      held.expiresAt = now + ttlMs;
      return new Date(held.expiresAt);
    },
    release: async (name, token) => {
      if (leases.get(name)?.token === token) leases.delete(name);
    },
  };
}
