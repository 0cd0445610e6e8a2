import { defineConfig } from "drizzle-kit";

// The migrations table is the package's own (see src/migrate.ts), so that `drizzle-kit migrate`
// and `migrate(db)` at start-up each see what the other applied, and an app's own
// `__drizzle_migrations` is left alone.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema.ts",
  out: "./drizzle",
  dbCredentials: {
    url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
  },
  migrations: {
    schema: "drizzle",
    table: "__workflow_store_migrations",
  },
});
