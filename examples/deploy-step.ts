// What a deploy pipeline runs before the new version of the app starts: connect from the
// environment and apply the store's migrations, so that the app then creates its stores with
// `{ autoMigrate: false }` and its role needs no right to create anything.
//
// The same step without code of your own: `npx workflow-store migrate`, or drizzle-kit with the
// config the package ships:
//   npx drizzle-kit migrate --config node_modules/drizzle-workflow-store/drizzle.config.ts
//
// Run: `DATABASE_URL=postgres://… npx tsx examples/deploy-step.ts`. Without DATABASE_URL it
// migrates a PGlite database in memory, only to show the step. It exits non-zero on failure, so
// the pipeline stops before the app starts.
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { type AnyPgDatabase, createStoreWithDb, migrate, StoreError } from "../src/index.js";

function connect(): { db: AnyPgDatabase; where: string; close: () => Promise<void> } {
  const url = process.env.DATABASE_URL;
  if (url) {
    // The migrations' "already exists, skipping" notices are expected, not for the pipeline's log.
    const client = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {} });
    return { db: drizzlePostgres({ client }), where: "PostgreSQL from DATABASE_URL", close: () => client.end() };
  }
  const client = new PGlite();
  return { db: drizzlePglite({ client }), where: "PGlite in memory (no DATABASE_URL)", close: () => client.close() };
}

const { db, where, close } = connect();
try {
  console.log(`Deploy step: migrating the workflow store on ${where}`);
  // Under an advisory lock: two pipelines at once are fine. Applied migrations are skipped.
  await migrate(db);
  await migrate(db);
  console.log("  migrations applied; running the step again changed nothing");

  // What the app does at start-up once the step has run.
  const store = await createStoreWithDb(db, { autoMigrate: false });
  const plans = await store.count("/dag/");
  await store.close();
  console.log(`App start-up: store created with autoMigrate: false; ${plans} plans under /dag/`);
} catch (error) {
  const code = error instanceof StoreError ? ` (${error.code})` : "";
  console.error(`deploy step failed${code}: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await close();
}
