/**
 * Writes a prefix in transactions of random length for test/watch-processes.test.ts, as one of
 * several worker processes: run as
 * `node <childScript("watch-writer")> <url> <prefix> <ms> <seed>`.
 *
 * Four callers each run transactions of 1 to 6 writes (sets, removes, several keys at once) with
 * pauses between them, a fifth of them rolled back (and any PostgreSQL rolls back for a deadlock); one transaction of the process stays open for
 * two seconds. Prints how many transactions committed and rolled back as one JSON line.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createPostgresStore } from "../../src/index.js";
import { Random } from "../../src/testing/random.js";

const [url, prefix, ms, seed] = process.argv.slice(2);
if (url === undefined || prefix === undefined || ms === undefined || seed === undefined) {
  throw new Error("usage: watch-writer.ts <url> <prefix> <ms> <seed>");
}
const random = new Random(Number(seed));
const key = () => `k${String(random.int(0, 399)).padStart(3, "0")}`;
const ROLLBACK = new Error("rolled back");

const store = await createPostgresStore(url);
const until = Date.now() + Number(ms);
let committed = 0;
let rolledBack = 0;
try {
  await Promise.all(
    Array.from({ length: 4 }, async (_, caller) => {
      let long = caller === 0;
      while (Date.now() < until) {
        const writes = 1 + random.int(0, 5);
        const rollback = random.int(0, 4) === 0;
        try {
          await store.transaction(async (tx) => {
            for (let i = 0; i < writes; i++) {
              const op = random.int(0, 9);
              if (op < 5) await tx.set(prefix, key(), Buffer.from(`${seed}.${caller}.${i}`));
              else if (op < 7) await tx.remove(prefix, key());
              else if (op < 9)
                // Two keys that cannot be the same: setMany refuses a key given twice.
                await tx.setMany(prefix, [
                  [key(), Buffer.from("many")],
                  [`${key()}x`, Buffer.from("many")],
                ]);
              else await tx.removeMany(prefix, [key(), key(), `${key()}x`]);
              await sleep(random.int(0, 14));
            }
            if (long) {
              long = false;
              await sleep(2000);
            }
            if (rollback) throw ROLLBACK;
          });
          committed++;
        } catch (error) {
          // Transactions that write keys in random order deadlock now and then: PostgreSQL rolls one back.
          const deadlock = (error as { cause?: { code?: string } }).cause?.code === "40P01";
          if (error !== ROLLBACK && !deadlock) throw error;
          rolledBack++;
        }
      }
    }),
  );
} finally {
  await store.close();
}
process.stdout.write(`${JSON.stringify({ committed, rolledBack })}\n`);
