import type { LeaseBackend } from "../core/leases.js";
import type { Calls } from "./calls.js";
import type { PreparedQueries } from "./statements/prepare.js";

/** Leases held in rows of `workflow_store_leases`, with the store's statements. */
export function leasesIn(queries: () => PreparedQueries, calls: Calls): LeaseBackend {
  return {
    acquire: async (name, ttlMs) => {
      const [row] = await calls.run({ op: "acquireLease", key: name }, () =>
        queries().acquireLease.execute({ name, ttlMs }),
      );
      return row ?? null;
    },
    renew: async (name, token, ttlMs) => {
      const [row] = await calls.run({ op: "renewLease", key: name }, () =>
        queries().renewLease.execute({ name, token, ttlMs }),
      );
      return row?.expiresAt ?? null;
    },
    release: async (name, token) => {
      await calls.run({ op: "releaseLease", key: name }, () => queries().releaseLease.execute({ name, token }));
    },
  };
}
