import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "drizzle-kit";
import { configFromEnv } from "./src/config/env.js";
import { resolvePassword } from "./src/config/pgpass.js";
import { tlsOptions } from "./src/config/tls.js";

// One config for this repository (`npm run db:generate`) and for apps, which run it from the
// installed package: `npx drizzle-kit migrate --config node_modules/drizzle-workflow-store/drizzle.config.ts`.
// drizzle-kit takes paths relative to the working directory (it cannot read an absolute `out`), so
// they are worked out from this file's place.
const here = (path: string) => relative(process.cwd(), fileURLToPath(new URL(path, import.meta.url)));

// The database comes from the environment as for the store itself: DATABASE_URL, else
// POSTGRES_HOST/PORT/USER/PASSWORD/DB over the defaults.
const database = configFromEnv();
if (!process.env.DATABASE_URL && !Object.keys(process.env).some((name) => name.startsWith("POSTGRES_"))) {
  // Commands that reach the database would otherwise fail with nothing but a spinner.
  console.warn(
    `drizzle-workflow-store: neither DATABASE_URL nor POSTGRES_* is set; using ${database.user}@${database.host}:${database.port}/${database.database}`,
  );
}

// A URL without a password takes PGPASSWORD, then the password file, as the store does; with none
// at all, drizzle-kit wants the field left out rather than empty.
const password = resolvePassword(database.password, database);

// No import of drizzle-kit itself: `npx drizzle-kit` may run without it in the app's node_modules.
export default {
  dialect: "postgresql",
  schema: here("./src/schema.ts"),
  out: here("./drizzle"),
  dbCredentials: {
    host: database.host,
    port: database.port,
    user: database.user,
    ...(password !== "" && { password }),
    database: database.database,
    ssl: tlsOptions(database),
  },
  // The package's own migrations table (see src/migrate.ts), so that `drizzle-kit migrate` and
  // `migrate(db)` each see what the other applied, and an app's `__drizzle_migrations` is left alone.
  migrations: {
    schema: "drizzle",
    table: "__workflow_store_migrations",
  },
  // Studio and `push` from this config see the store's tables only.
  tablesFilter: ["workflow_store", "workflow_store_*"],
} satisfies Config;
