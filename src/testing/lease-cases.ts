import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { type Lease, type Store, workflowStoreTables } from "../index.js";
import type { CaseContext } from "./context.js";
import { expectStoreError, freshPrefix } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Long enough that no case outlives it by accident: the cases that need expiry ask for less. */
const LONG_TTL_MS = 60_000;

/** A lease name no other case (or earlier run on the same database) uses. */
function freshName(): string {
  return freshPrefix("lease");
}

/** Takes a lease the case expects to be free. */
async function take(store: Store, name: string, ttlMs = LONG_TTL_MS): Promise<Lease> {
  const lease = await store.acquireLease(name, { ttlMs });
  if (lease === null) throw new Error(`the lease ${JSON.stringify(name)} was expected to be free`);
  return lease;
}

async function expectLost(lease: Lease): Promise<void> {
  const error = await expectStoreError(lease.renew(), "CONFLICT");
  expect(error.op).toBe("renewLease");
  expect(error.key).toBe(lease.name);
}

/**
 * The cases of leases: exclusion, fencing tokens that grow with every holder, release, expiry and
 * takeover, renew, input checks, `CLOSED`, and where the target has a second handle on the
 * database, the rows behind the API.
 */
export function leaseCases({ target, store: suiteStore }: CaseContext): void {
  let store: Store;
  beforeAll(() => {
    store = suiteStore();
  });

  describe("leases", () => {
    it("gives a lease to one holder at a time, with a positive token and its expiry", async () => {
      const name = freshName();
      const before = Date.now();
      const lease = await take(store, name, 30_000);
      expect(lease.name).toBe(name);
      expect(Number.isSafeInteger(lease.token)).toBe(true);
      expect(lease.token).toBeGreaterThan(0);
      expect(lease.expiresAt).toBeInstanceOf(Date);
      // The database's clock, not ours: allow the two some skew.
      expect(lease.expiresAt.getTime()).toBeGreaterThan(before + 30_000 - 5_000);
      expect(lease.expiresAt.getTime()).toBeLessThan(Date.now() + 30_000 + 5_000);
      expect(await store.acquireLease(name, { ttlMs: LONG_TTL_MS })).toBeNull();
      expect(await store.acquireLease(name, { ttlMs: 1 })).toBeNull();
      await lease.release();
    });

    it("passes a released lease on at once, with a greater token; release is idempotent and renew after it is CONFLICT", async () => {
      const name = freshName();
      const first = await take(store, name);
      await first.release();
      await first.release();
      await expectLost(first);
      const second = await take(store, name);
      expect(second.token).toBeGreaterThan(first.token);
      // The first holder's release, again, leaves the second holder's lease alone.
      await first.release();
      expect(await store.acquireLease(name, { ttlMs: LONG_TTL_MS })).toBeNull();
      await second.renew();
      await second.release();
      const third = await take(store, name);
      expect(third.token).toBeGreaterThan(second.token);
      await third.release();
    });

    it("lets another take over an expired lease; the old holder can neither renew nor release it", async () => {
      const name = freshName();
      const old = await take(store, name, 100);
      await sleep(300);
      const next = await take(store, name);
      expect(next.token).toBeGreaterThan(old.token);
      await expectLost(old);
      await old.release();
      expect(await store.acquireLease(name, { ttlMs: LONG_TTL_MS })).toBeNull();
      await next.renew();
      await next.release();
    });

    it("renews a lease with CONFLICT once it expired, though nobody took it over", async () => {
      const lease = await take(store, freshName(), 50);
      await sleep(250);
      await expectLost(lease);
      await lease.release();
    });

    it("keeps a renewed lease past its first ttl, and moves expiresAt", async () => {
      const name = freshName();
      const ttlMs = 600;
      const acquired = Date.now();
      const lease = await take(store, name, ttlMs);
      let expiresAt = lease.expiresAt.getTime();
      while (Date.now() - acquired < ttlMs + 150) {
        await sleep(200);
        await lease.renew();
        expect(lease.expiresAt.getTime()).toBeGreaterThan(expiresAt);
        expiresAt = lease.expiresAt.getTime();
      }
      // Past the first ttl by 150 ms or more: only the renewals keep the others out.
      expect(await store.acquireLease(name, { ttlMs: LONG_TTL_MS })).toBeNull();
      await lease.release();
    });

    it("keeps leases of different names apart", async () => {
      const a = await take(store, freshName());
      const b = await take(store, freshName());
      expect(b.token).not.toBe(a.token);
      await a.release();
      expect(await store.acquireLease(b.name, { ttlMs: LONG_TTL_MS })).toBeNull();
      await b.renew();
      const again = await take(store, a.name);
      await again.release();
      await b.release();
    });

    it("gives a lease to exactly one of many concurrent acquirers", async () => {
      const name = freshName();
      const leases = await Promise.all(
        Array.from({ length: 20 }, () => store.acquireLease(name, { ttlMs: LONG_TTL_MS })),
      );
      const held = leases.filter((lease) => lease !== null);
      expect(held).toHaveLength(1);
      await held[0]?.release();
    });

    it("takes any string a key may be as a name", async () => {
      const unique = crypto.randomUUID();
      const names = [
        "",
        `%_${unique}`,
        `'; drop table workflow_store_leases; --${unique}`,
        `é/😀/\u200d/${unique}`,
        `${unique}${"y".repeat(255 - unique.length)}`,
        `${unique}${"😀".repeat(255 - unique.length)}`,
      ];
      for (const name of names) {
        // A short ttl: "" is the one name a run cannot make unique, and a failed run must not keep it.
        const lease = await take(store, name, 5_000);
        expect(lease.name).toBe(name);
        expect(await store.acquireLease(name, { ttlMs: LONG_TTL_MS })).toBeNull();
        await lease.renew();
        await lease.release();
      }
    });

    describe("input is checked before anything is sent", () => {
      const badNames: [string, unknown][] = [
        ["a number", 42],
        ["null", null],
        ["256 characters", "x".repeat(256)],
        ["a NUL", "a\0b"],
        ["a lone surrogate", "a\uD800"],
      ];
      for (const [what, name] of badNames) {
        it(`rejects a name that is ${what} with INVALID_ARGUMENT`, async () => {
          const error = await expectStoreError(store.acquireLease(name as string, { ttlMs: 1000 }), "INVALID_ARGUMENT");
          expect(error.op).toBe("acquireLease");
        });
      }

      const badOptions: [string, unknown][] = [
        ["missing", undefined],
        ["null", null],
        ["without ttlMs", {}],
        ["a ttlMs of 0", { ttlMs: 0 }],
        ["a negative ttlMs", { ttlMs: -1 }],
        ["a fractional ttlMs", { ttlMs: 1.5 }],
        ["a ttlMs over a day", { ttlMs: 86_400_001 }],
        ["a ttlMs that is a string", { ttlMs: "1000" }],
        ["a ttlMs that is NaN", { ttlMs: Number.NaN }],
        ["a ttlMs that is Infinity", { ttlMs: Number.POSITIVE_INFINITY }],
      ];
      for (const [what, options] of badOptions) {
        it(`rejects options ${what} with INVALID_ARGUMENT, and takes nothing`, async () => {
          const name = freshName();
          const error = await expectStoreError(
            store.acquireLease(name, options as { ttlMs: number }),
            "INVALID_ARGUMENT",
          );
          expect(error.op).toBe("acquireLease");
          expect(error.key).toBe(name);
          const lease = await take(store, name);
          await lease.release();
        });
      }

      it("accepts a ttlMs of 1 and of a whole day", async () => {
        const shortest = await take(store, freshName(), 1);
        await shortest.release();
        const longest = await take(store, freshName(), 86_400_000);
        await longest.release();
      });
    });

    it("rejects acquire, renew and release with CLOSED after close", async () => {
      const closing = await target.create();
      const lease = await take(closing, freshName(), 5_000);
      await closing.close();
      await expectStoreError(closing.acquireLease(freshName(), { ttlMs: 1000 }), "CLOSED");
      const renewed = await expectStoreError(lease.renew(), "CLOSED");
      expect(renewed.op).toBe("renewLease");
      await expectStoreError(lease.release(), "CLOSED");
    });

    const db = target.db;
    describe.skipIf(db === undefined)(
      `lease rows behind the API${db ? "" : " (skipped: no second handle on this database)"}`,
      () => {
        const leases = workflowStoreTables(target.schema).leases;
        const row = async (name: string) => {
          if (db === undefined) throw new Error("unreachable");
          const [found] = await db()
            .select({ token: leases.token, expiresAt: leases.expiresAt })
            .from(leases)
            .where(eq(leases.name, name));
          return found;
        };

        it("holds the token and the expiry in a row, which release expires and keeps", async () => {
          if (db === undefined) throw new Error("unreachable");
          const lease = await take(store, freshName(), 30_000);
          expect(await row(lease.name)).toEqual({ token: lease.token, expiresAt: lease.expiresAt });
          await lease.renew();
          expect((await row(lease.name))?.expiresAt).toEqual(lease.expiresAt);
          await lease.release();
          // Kept, so that the next holder's token is drawn under its lock, after this one's.
          const [released] = await db()
            .select({ token: leases.token, expired: sql<boolean>`${leases.expiresAt} <= clock_timestamp()` })
            .from(leases)
            .where(eq(leases.name, lease.name));
          expect(released).toEqual({ token: lease.token, expired: true });
        });

        it("passes on the lease of a holder that never came back once its row expires", async () => {
          if (db === undefined) throw new Error("unreachable");
          const lease = await take(store, freshName());
          // What an hour without renewals leaves, without the wait.
          await db()
            .update(leases)
            .set({ expiresAt: sql`now() - interval '1 hour'` })
            .where(eq(leases.name, lease.name));
          const next = await take(store, lease.name);
          expect(next.token).toBeGreaterThan(lease.token);
          expect(await row(lease.name)).toEqual({ token: next.token, expiresAt: next.expiresAt });
          await expectLost(lease);
          await next.release();
        });
      },
    );
  });
}
