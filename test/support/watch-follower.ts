/**
 * Follows a prefix for test/watch-processes.test.ts, as a watcher process that stops and resumes:
 * run as `node <childScript("watch-follower")> <url> <prefix> <doneKey> <seed>`.
 *
 * It keeps a view of the prefix (key to revision) by applying watch events, as the WatchEvent docs
 * say; it ends its watch at random moments (every 50 to 600 ms) and starts another from the last
 * revision it saw, until it sees `doneKey` set. Prints its view, and any revision that did not
 * rise, as one JSON line.
 */
import { createPostgresStore, type WatchEvent } from "../../src/index.js";
import { applyEvents } from "../../src/testing/apply-events.js";
import { Random } from "../../src/testing/random.js";

const [url, prefix, doneKey, seed] = process.argv.slice(2);
if (url === undefined || prefix === undefined || doneKey === undefined || seed === undefined) {
  throw new Error("usage: watch-follower.ts <url> <prefix> <doneKey> <seed>");
}
const random = new Random(Number(seed));

const store = await createPostgresStore(url);
const view = new Map<string, number>();
const outOfOrder: string[] = [];
let last = 0;
let resumes = 0;
let events = 0;
try {
  for (let done = false; !done; resumes++) {
    const stop = AbortSignal.timeout(50 + random.int(0, 549));
    for await (const event of store.watch(prefix, { fromRevision: last, signal: stop })) {
      if (event.revision <= last) outOfOrder.push(`${event.revision} after ${last}`);
      last = event.revision;
      events++;
      const stored = new Set<string>();
      if (event.type === "removeRange") for await (const key of store.keys(prefix)) stored.add(key);
      applyEvents(view, [event as WatchEvent], stored);
      if (event.type === "set" && event.key === doneKey) {
        done = true;
        break;
      }
    }
  }
} finally {
  await store.close();
}
view.delete(doneKey);
process.stdout.write(`${JSON.stringify({ view: Object.fromEntries(view), outOfOrder, resumes, events })}\n`);
