import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterEach, inject } from "vitest";
import { createTestDatabase } from "./global-setup.js";

/** The run's database URL, or null with the reason the real-PostgreSQL tests are skipped. */
export const databaseUrl = inject("databaseUrl");
export const skipReason = databaseUrl === null ? ` (skipped: ${inject("postgresSkipReason")})` : "";

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
 * drops what it made after each test.
 */
export function freshDatabasePerTest() {
  const drops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const drop of drops.splice(0)) await drop();
  });
  return async (label: string) => {
    const database = await freshDatabase(label);
    drops.push(database.drop);
    return database;
  };
}
