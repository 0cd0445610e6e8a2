/**
 * A process that takes a lease and holds it without renewing, for the test that kills a holder.
 * Run as `node <childScript("lease-child")> <databaseUrl> <name> <ttlMs>`; it reports
 * on stdout, one line:
 *
 * - `held <token> <expiresAt in ms since the epoch>` once it holds the lease, then waits to be killed;
 * - `free` when another holds the lease, then exits with 3.
 */
import { createPostgresStore } from "../../src/index.js";

const [url, name, ttl] = process.argv.slice(2);
if (url === undefined || name === undefined || ttl === undefined) {
  throw new Error("usage: lease-child.ts <databaseUrl> <name> <ttlMs>");
}

const store = await createPostgresStore(url, { autoMigrate: false });
const lease = await store.acquireLease(name, { ttlMs: Number(ttl) });
if (lease === null) {
  process.stdout.write("free\n");
  await store.close();
  process.exit(3);
}
process.stdout.write(`held ${lease.token} ${lease.expiresAt.getTime()}\n`);
// Holds the lease (and its connection) until killed: a crash, not a release.
setInterval(() => {}, 60_000);
