import { randomBytes } from "node:crypto";
import postgres from "postgres";

/**
 * A login role of its own for one test on one database (roles are server-wide, so each gets a
 * random name), with `grants` run as the database's owner. `drop` removes it after the database.
 */
export async function createRole(databaseUrl: string, grants: (role: string) => string[] = () => []) {
  const role = `dws_role_${randomBytes(4).toString("hex")}`;
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create role "${role}" login`);
    for (const grant of grants(role)) await admin.unsafe(grant);
  } finally {
    await admin.end();
  }
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = "";
  return {
    name: role,
    url: url.toString(),
    /** Run after the test's database is dropped, which takes the role's grants with it. */
    drop: async () => {
      const dropper = postgres(databaseUrl.replace(/\/[^/]*$/, "/postgres"), { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop role if exists "${role}"`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** What the usual production app role holds: read and write on the table, read on the journal. */
export const READ_WRITE_GRANTS = (role: string) => [
  `grant select, insert, update, delete on workflow_store, workflow_store_leases to "${role}"`,
  `grant select on workflow_store_changes, workflow_store_compaction to "${role}"`,
  `grant usage on sequence workflow_store_revision to "${role}"`,
  `grant usage on schema drizzle to "${role}"`,
  `grant select on drizzle.__workflow_store_migrations to "${role}"`,
];
