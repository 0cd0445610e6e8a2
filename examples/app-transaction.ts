// An app with its own Drizzle database and its own table places an order and starts the order's
// workflow run in ONE transaction of the app: the order row and the run context in the store
// commit together, and a transaction that rolls back leaves neither.
//
// Run: `npx tsx examples/app-transaction.ts`. PGlite in memory, or the server DATABASE_URL names
// (it then leaves an `example_orders` table behind, empty).
import { randomUUID } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { eq, sql } from "drizzle-orm";
import { pgTable, text } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { type AnyPgDatabase, createStoreWithDb, migrate } from "../src/index.js";

/** The app's own table. */
const orders = pgTable("example_orders", { id: text("id").primaryKey(), item: text("item").notNull() });

/** The workflow engine's prefix for the context of an unfinished run; the key is the run id. */
const RUN_CONTEXT_PATH = "/run_context/";

function connect(): { db: AnyPgDatabase; where: string; close: () => Promise<void> } {
  const url = process.env.DATABASE_URL;
  if (url) {
    // The migrations' "already exists, skipping" notices are expected, not for the console.
    const client = postgres(url, { max: 2, onnotice: () => {} });
    return { db: drizzlePostgres({ client }), where: "PostgreSQL from DATABASE_URL", close: () => client.end() };
  }
  const client = new PGlite();
  return { db: drizzlePglite({ client }), where: "PGlite in memory", close: () => client.close() };
}

const { db, where, close } = connect();
try {
  // As the app's own migrations would create it.
  await db.execute(sql`create table if not exists example_orders (id text primary key, item text not null)`);
  // Once, at start-up or in a deploy step (see deploy-step.ts), so that the stores built on
  // transactions below need not check the migrations each time.
  await migrate(db);
  console.log(`App database: ${where}; the store's table is migrated`);

  const placeOrder = (id: string, item: string, failWith?: string) =>
    db.transaction(async (tx) => {
      await tx.insert(orders).values({ id, item });
      const store = await createStoreWithDb(tx, { autoMigrate: false });
      const context = { Status: 1, Entrypoint: ["fulfil", "reserve"], Data: { order: id, item } };
      await store.set(RUN_CONTEXT_PATH, id, Buffer.from(JSON.stringify(context)));
      if (failWith !== undefined) throw new Error(failWith);
    });

  // Reads back outside any transaction: what the database kept.
  const store = await createStoreWithDb(db, { autoMigrate: false });
  const kept = async (id: string) => {
    const rows = await db.select().from(orders).where(eq(orders.id, id));
    const row = rows.length > 0 ? "yes" : "no";
    const context = (await store.has(RUN_CONTEXT_PATH, id)) ? "yes" : "no";
    return `order row ${row}, run context under ${RUN_CONTEXT_PATH} ${context}`;
  };

  const committed = `order-${randomUUID().slice(0, 8)}`;
  await placeOrder(committed, "teapot");
  console.log(`committed ${committed}: ${await kept(committed)}`);

  const rolledBack = `order-${randomUUID().slice(0, 8)}`;
  const reason = await placeOrder(rolledBack, "kettle", "payment declined").then(
    () => "not rolled back",
    (error: Error) => error.message,
  );
  console.log(`rolled back ${rolledBack} (${reason}): ${await kept(rolledBack)}`);

  await db.delete(orders).where(eq(orders.id, committed));
  await store.remove(RUN_CONTEXT_PATH, committed);
  await store.close(); // leaves the app's database open: it is the app's to close
} catch (error) {
  console.error(`app-transaction failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await close();
}
