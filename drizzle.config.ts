import { defineConfig } from "drizzle-kit";
import { configFromEnv } from "./src/env.js";
import { tlsOptions } from "./src/postgres-store.js";

// The database comes from the environment as for the store itself: DATABASE_URL, else
// POSTGRES_HOST/PORT/USER/PASSWORD/DB over the defaults.
const database = configFromEnv();

// The migrations table is the package's own (see src/migrate.ts), so that `drizzle-kit migrate`
// and `migrate(db)` at start-up each see what the other applied, and an app's own
// `__drizzle_migrations` is left alone.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema.ts",
  out: "./drizzle",
  dbCredentials: {
    host: database.host,
    port: database.port,
    user: database.user,
    password: database.password,
    database: database.database,
    ssl: tlsOptions(database),
  },
  migrations: {
    schema: "drizzle",
    table: "__workflow_store_migrations",
  },
});
