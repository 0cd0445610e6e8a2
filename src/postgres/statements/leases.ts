import { and, eq, sql } from "drizzle-orm";
import { REVISION_SEQUENCE } from "../../schema.js";
import type { StatementContext } from "./context.js";

/** Leases in rows of `workflow_store_leases`, with tokens from the revision sequence. */
export function leaseStatements(c: StatementContext) {
  const { db, named } = c;
  const { leases } = c.tables;
  const sequence = sql`nextval(${c.qualified(REVISION_SEQUENCE)}::regclass)`;
  const expiry = sql`clock_timestamp() + ${sql.placeholder("ttlMs")} * interval '1 millisecond'`;
  const holder = and(eq(leases.name, sql.placeholder("name")), eq(leases.token, sql.placeholder("token")));
  return {
    /**
     * Takes a lease nobody holds or whose holder let it expire; no row while another holds it. A
     * takeover draws its token anew under the row's lock, not in VALUES: a value drawn there, before
     * a wait on the row, can be older than the token of a holder that took and released the lease
     * meanwhile. The row outlives release for the same reason: into no row, an INSERT with such a
     * token would succeed.
     */
    acquireLease: () =>
      db
        .insert(leases)
        .values({ name: sql.placeholder("name"), token: sequence, expiresAt: expiry })
        .onConflictDoUpdate({
          target: leases.name,
          set: { token: sequence, expiresAt: expiry },
          where: sql`${leases.expiresAt} <= clock_timestamp()`,
        })
        .returning({ token: leases.token, expiresAt: leases.expiresAt })
        .prepare(named("acquire_lease")),
    renewLease: () =>
      db
        .update(leases)
        .set({ expiresAt: expiry })
        .where(and(holder, sql`${leases.expiresAt} > clock_timestamp()`))
        .returning({ expiresAt: leases.expiresAt })
        .prepare(named("renew_lease")),
    /** Expires the holder's row rather than deleting it: see acquireLease. */
    releaseLease: () =>
      db.update(leases).set({ expiresAt: sql`clock_timestamp()` }).where(holder).prepare(named("release_lease")),
  };
}
