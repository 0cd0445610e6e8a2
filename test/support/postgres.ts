import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, inject } from "vitest";
import { createTestDatabase } from "./global-setup.js";

/** The run's database URL, or null with the reason the real-PostgreSQL tests are skipped. */
export const databaseUrl = inject("databaseUrl");
export const skipReason = databaseUrl === null ? ` (skipped: ${inject("postgresSkipReason")})` : "";

/**
 * What docs/design.md ("Limits for an app's own postgres.js clients") tells an app's own postgres.js
 * client to set so that killed connections leave no call pending for good: no pipelining
 * (`max_pipeline`, which postgres.js 3 reads though its types leave it out), a short reconnect
 * backoff, and no array-type read on each new connection, which on postgres.js 3 rejects where
 * nothing handles it when the connection is killed meanwhile. Such a client runs no transaction.
 */
export const faultTolerantClient = {
  max_pipeline: 1,
  backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
  fetch_types: false,
};

/** A fresh database of its own for one test, with a postgres.js Drizzle handle; `drop` ends both. */
export async function freshDatabase(label: string) {
  if (databaseUrl === null) throw new Error("no PostgreSQL");
  const database = await createTestDatabase(databaseUrl, label);
  const clients: postgres.Sql[] = [];
  const connect = (max = 1) => {
    const client = postgres(database.url, { max, onnotice: () => {} });
    clients.push(client);
    return { client, db: drizzle({ client }) };
  };
  return {
    url: database.url,
    connect,
    drop: async () => {
      await Promise.all(clients.map((client) => client.end()));
      await database.drop();
    },
  };
}

/**
 * For a describe block whose tests each make databases of their own: returns `fresh(label)`, and
 * drops what it made after the block's last test (not after each, so that its tests may run side
 * by side).
 */
export function freshDatabasePerBlock() {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(drops.splice(0).map((drop) => drop()));
  });
  return async (label: string) => {
    const database = await freshDatabase(label);
    drops.push(database.drop);
    return database;
  };
}
