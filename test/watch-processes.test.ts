import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createPostgresStore } from "../src/index.js";
import { childScript } from "./support/child-scripts.js";
import { databaseUrl, freshDatabasePerBlock, skipReason } from "./support/postgres.js";
import { runProcess } from "./support/processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const PREFIX = "/runs/shared";
const DONE = "~done";
const WRITERS = 3;
const FOLLOWERS = 2;
const WRITE_MS = 6000;

interface FollowerLog {
  view: Record<string, number>;
  outOfOrder: string[];
  resumes: number;
  events: number;
}

describe.skipIf(databaseUrl === null)(`watch across processes${skipReason}`, () => {
  const fresh = freshDatabasePerBlock();

  it("gives every watcher that stops and resumes at random moments the table's final state, in revision order, while writer processes commit and roll back transactions of random length", async () => {
    const database = await fresh("watch_processes");
    // The table exists before the children start, so that none of them migrates.
    const store = await createPostgresStore(database.url);
    try {
      const followers = Array.from({ length: FOLLOWERS }, (_, i) =>
        runProcess(process.execPath, [childScript("watch-follower"), database.url, PREFIX, DONE, String(i + 1)], {
          cwd: root,
          timeoutMs: 90_000,
        }),
      );
      const writers = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) =>
          runProcess(
            process.execPath,
            [childScript("watch-writer"), database.url, PREFIX, String(WRITE_MS), String(i + 1)],
            {
              cwd: root,
              timeoutMs: 90_000,
            },
          ),
        ),
      );
      for (const [i, result] of writers.entries()) expect(result.code, `writer ${i}: ${result.stderr}`).toBe(0);
      const counts = writers.map(
        (result) => JSON.parse(result.stdout.trim()) as { committed: number; rolledBack: number },
      );
      // Each writer committed and rolled back transactions.
      console.log(`writers: ${JSON.stringify(counts)}`);
      for (const count of counts) {
        expect(count.committed).toBeGreaterThan(0);
        expect(count.rolledBack).toBeGreaterThan(0);
      }
      await store.set(PREFIX, DONE, Buffer.from("done"));
      const table = new Map<string, number>();
      for await (const entry of store.entries(PREFIX)) if (entry.key !== DONE) table.set(entry.key, entry.revision);
      expect(table.size).toBeGreaterThan(0);
      for (const [i, result] of (await Promise.all(followers)).entries()) {
        expect(result.code, `follower ${i}: ${result.stderr}`).toBe(0);
        const log = JSON.parse(result.stdout.trim()) as FollowerLog;
        expect(log.outOfOrder, `follower ${i}`).toEqual([]);
        expect(log.resumes, `follower ${i}`).toBeGreaterThan(5);
        const view = new Map(Object.entries(log.view));
        const differences = [...new Set([...view.keys(), ...table.keys()])]
          .filter((key) => view.get(key) !== table.get(key))
          .map((key) => `${key}: watcher ${view.get(key) ?? "-"}, table ${table.get(key) ?? "-"}`);
        expect(differences, `follower ${i}`).toEqual([]);
      }
    } finally {
      await store.close();
    }
  }, 120_000);
});
