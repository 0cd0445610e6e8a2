/**
 * A process that opens an embedded data directory, for the tests that need a second process (or
 * one to kill). Run as `node <childScript("embedded-child")> <mode> <dataDir> [n]`;
 * it reports on stdout, one line each:
 *
 * - `ack <key>` after each write resolved; `ready <pid>` once open (and done writing);
 * - `error <code> <message>` if opening failed, then exits with 2;
 * - `closed` after closing, which it does when its stdin ends.
 *
 * Modes:
 * - `hold <dataDir> <n>`: writes n keys, then holds the store open until stdin ends.
 * - `write <dataDir>`: writes keys one by one until killed.
 * - `exit <dataDir> <n>`: writes n keys, then exits without closing the store.
 * - `lock <dataDir>`: only takes the directory's lock, and holds it until stdin ends.
 * - `lock <dataDir> race`: reports `waiting`, takes the lock when a line comes on stdin (so that
 *   several processes try at once), with slow reads of the lock file (see slowLockReads).
 */
import { once } from "node:events";
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { createInterface } from "node:readline";
import { LOCK_FILE, lockDataDir } from "../../src/drivers/pglite/data-dir-lock.js";
import { createEmbeddedStore, type Store, StoreError } from "../../src/index.js";

// The tests read the keys back from here; each value is its key's bytes.
const PREFIX = "/children";

const [mode, dataDir, argument] = process.argv.slice(2);
if (mode === undefined || dataDir === undefined) throw new Error("usage: embedded-child.ts <mode> <dataDir> [n]");

function report(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function untilStdinEnds(): Promise<void> {
  if (process.stdin.readableEnded) return;
  process.stdin.resume();
  await once(process.stdin, "end");
}

/**
 * Makes every read of the lock file take 20 ms longer after it read the file, so that the racers of
 * `lock … race` act on what they read long after they read it — what a busy machine does at times.
 * A takeover that removed the stale lock and created its own would let several of them in.
 */
function slowLockReads(): void {
  const readFile = fs.readFileSync;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const slowed = ((...args: Parameters<typeof readFile>) => {
    const result = readFile(...args);
    if (String(args[0]).endsWith(LOCK_FILE)) Atomics.wait(pause, 0, 0, 20);
    return result;
  }) as typeof readFile;
  fs.readFileSync = slowed;
  // The named exports that the data directory lock imports follow the patched function from here on.
  syncBuiltinESMExports();
}

async function write(store: Store, key: string): Promise<void> {
  await store.set(PREFIX, key, Buffer.from(key));
  report(`ack ${key}`);
}

async function open<T>(opener: () => Promise<T>): Promise<T> {
  try {
    return await opener();
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    report(`error ${error.code} ${error.message}`);
    process.exit(2);
  }
}

if (mode === "lock") {
  if (argument === "race") {
    slowLockReads();
    report("waiting");
    await once(createInterface({ input: process.stdin }), "line");
  }
  const lock = await open(() => lockDataDir(dataDir));
  report(`ready ${process.pid}`);
  await untilStdinEnds();
  lock.release();
  report("closed");
} else {
  const store = await open(() => createEmbeddedStore({ dataDir }));
  if (mode === "write") {
    report(`ready ${process.pid}`);
    for (let i = 0; ; i++) await write(store, `key-${String(i).padStart(6, "0")}`);
  }
  for (let i = 0; i < Number(argument); i++) await write(store, `key-${String(i).padStart(6, "0")}`);
  report(`ready ${process.pid}`);
  if (mode === "exit") process.exit(0);
  await untilStdinEnds();
  await store.close();
  report("closed");
}
