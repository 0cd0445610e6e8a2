// Fails when src/schema.ts and the migrations in drizzle/ disagree: drizzle-kit generates into a
// scratch copy of drizzle/, and any file it adds there is a migration that nobody committed.
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, rmSync } from "node:fs";

const scratch = "node_modules/.cache/db-check/drizzle";
const list = (dir) => readdirSync(dir, { recursive: true }).map(String).sort();

rmSync(scratch, { recursive: true, force: true });
cpSync("drizzle", scratch, { recursive: true });
execFileSync(
  "npx",
  ["drizzle-kit", "generate", "--dialect", "postgresql", "--schema", "src/schema.ts", "--out", scratch],
  { stdio: ["ignore", "ignore", "inherit"] },
);
const added = list(scratch).filter((file) => !list("drizzle").includes(file));
rmSync(scratch, { recursive: true, force: true });
if (added.length > 0) {
  console.error(
    `src/schema.ts has changes with no migration; run \`npm run db:generate\`. It would add: ${added.join(", ")}`,
  );
  process.exit(1);
}
console.log("drizzle/ matches src/schema.ts");
