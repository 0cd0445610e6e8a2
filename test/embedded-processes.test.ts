import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LOCK_FILE } from "../src/drivers/pglite/data-dir-lock.js";
import { createEmbeddedStore } from "../src/index.js";
import { childScript } from "./support/child-scripts.js";
import { copyNewDataDir } from "./support/pglite-template.js";
import { cleanEnv, PGLITE_NODE_FLAGS } from "./support/processes.js";

const root = fileURLToPath(new URL("..", import.meta.url));
// Where test/support/embedded-child.ts writes; each value is its key's bytes.
const CHILD_PREFIX = "/children";

/** A running test/support/embedded-child.ts, read line by line. */
class Child {
  readonly #process: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  #stderr = "";
  #onLine: (() => void)[] = [];
  /** Its exit code once it ended; null when killed. */
  readonly exited: Promise<number | null>;

  constructor(mode: "hold" | "write" | "exit" | "lock", dataDir: string, argument = "0") {
    this.#process = spawn(
      process.execPath,
      [...PGLITE_NODE_FLAGS, childScript("embedded-child"), mode, dataDir, argument],
      {
        cwd: root,
        env: cleanEnv(),
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    this.#process.stderr.on("data", (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    createInterface({ input: this.#process.stdout }).on("line", (line) => {
      this.lines.push(line);
      for (const wake of this.#onLine) wake();
    });
    this.exited = new Promise((resolveExit) => this.#process.on("close", (code) => resolveExit(code)));
    children.add(this);
  }

  get pid(): number {
    return this.#process.pid ?? -1;
  }

  /** The keys it reported written. */
  get acknowledged(): string[] {
    return this.lines.filter((line) => line.startsWith("ack ")).map((line) => line.slice("ack ".length));
  }

  /** Its first line that starts with `ready` or `error`: how opening went. */
  async opened(): Promise<string> {
    return this.waitFor((line) => line.startsWith("ready ") || line.startsWith("error "));
  }

  /** Resolves with the first line (seen or to come) that matches; rejects if the child ends first. */
  waitFor(matches: (line: string, index: number) => boolean): Promise<string> {
    return new Promise((resolveLine, reject) => {
      const check = (): boolean => {
        const found = this.lines.find(matches);
        if (found === undefined) return false;
        this.#onLine = this.#onLine.filter((wake) => wake !== onLine);
        resolveLine(found);
        return true;
      };
      const onLine = (): void => void check();
      if (check()) return;
      this.#onLine.push(onLine);
      void this.exited.then(() => {
        if (!check()) reject(new Error(`the child ended (${this.lines.join(" | ")}): ${this.#stderr}`));
      });
    });
  }

  /** Writes a line to its stdin. */
  send(line: string): void {
    this.#process.stdin.write(`${line}\n`);
  }

  /** Ends its stdin, which makes it close the store, and waits for it to exit. */
  async stop(): Promise<number | null> {
    this.#process.stdin.end();
    return this.exited;
  }

  async kill(): Promise<void> {
    this.#process.kill("SIGKILL");
    await this.exited;
  }
}

const children = new Set<Child>();

function heldMessage(dataDir: string, pid: number): string {
  return (
    `error CONNECTION workflow store connect: the embedded data directory ${resolve(dataDir)} is open in ` +
    `process ${pid} (${process.execPath}); one process at a time may open it: stop that process (Ctrl-C where it runs, ` +
    `or kill ${pid}), then try again`
  );
}

describe("an embedded data directory across processes", () => {
  const dir = mkdtempSync(join(tmpdir(), "dws-embedded-processes-"));
  let next = 0;
  /** A data directory copied from the run's new one, so that no test waits for PGlite's initdb. */
  const freshDataDir = (): string => copyNewDataDir(join(dir, `data-${next++}`));

  afterEach(async () => {
    await Promise.all([...children].map((child) => child.kill()));
    children.clear();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a second process while the first has it open, and keeps every write of the first", async () => {
    const dataDir = freshDataDir();
    const first = new Child("hold", dataDir, "50");
    expect(await first.opened()).toBe(`ready ${first.pid}`);

    const second = new Child("hold", dataDir);
    expect(await second.exited).toBe(2);
    expect(second.lines).toEqual([heldMessage(dataDir, first.pid)]);

    expect(await first.stop()).toBe(0);
    const store = await createEmbeddedStore({ dataDir });
    try {
      expect(await store.count(CHILD_PREFIX)).toBe(50);
      const values = await store.getMany(CHILD_PREFIX, first.acknowledged);
      expect([...values].filter(([key, value]) => value.toString() === key)).toHaveLength(50);
    } finally {
      await store.close();
    }
  }, 60_000);

  it("lets the next process in once the first has closed the store", async () => {
    const dataDir = freshDataDir();
    const first = new Child("hold", dataDir, "3");
    await first.opened();
    expect(await first.stop()).toBe(0);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

    const second = new Child("hold", dataDir, "0");
    expect(await second.opened()).toBe(`ready ${second.pid}`);
    expect(await second.stop()).toBe(0);
  }, 60_000);

  it("releases the directory when a process exits without closing the store", async () => {
    const dataDir = freshDataDir();
    const child = new Child("exit", dataDir, "10");
    expect(await child.exited).toBe(0);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

    const store = await createEmbeddedStore({ dataDir });
    try {
      expect(await store.count(CHILD_PREFIX)).toBe(10);
    } finally {
      await store.close();
    }
  }, 60_000);

  it("keeps every acknowledged write of a process killed mid-write, and opens after it", async () => {
    const dataDir = freshDataDir();
    const writer = new Child("write", dataDir);
    await writer.waitFor((_line, index) => index >= 200);
    await writer.kill();
    const acknowledged = writer.acknowledged;
    expect(acknowledged.length).toBeGreaterThanOrEqual(200);
    // The killed process could not remove its lock: this open takes a stale lock over.
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(true);

    const store = await createEmbeddedStore({ dataDir });
    try {
      const values = await store.getMany(CHILD_PREFIX, acknowledged);
      const missing = acknowledged.filter((key) => values.get(key)?.toString() !== key);
      expect(missing).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it("lets exactly one of two processes in when both find a killed process's lock", async () => {
    const dataDir = freshDataDir();
    const killed = new Child("hold", dataDir, "5");
    await killed.opened();
    await killed.kill();

    const racers = [new Child("hold", dataDir), new Child("hold", dataDir)];
    const outcomes = await Promise.all(racers.map((racer) => racer.opened()));
    const winners = racers.filter((racer, i) => outcomes[i] === `ready ${racer.pid}`);
    expect(winners).toHaveLength(1);
    const [winner] = winners;
    if (winner === undefined) return;
    expect(outcomes.filter((outcome) => outcome !== `ready ${winner.pid}`)).toEqual([heldMessage(dataDir, winner.pid)]);
    expect(await winner.stop()).toBe(0);

    const store = await createEmbeddedStore({ dataDir });
    try {
      expect(await store.count(CHILD_PREFIX)).toBe(5);
    } finally {
      await store.close();
    }
  }, 60_000);

  it("gives a stale lock to exactly one of many processes that try to take it at the same instant", async () => {
    const dataDir = join(dir, "lock-only");
    for (let round = 0; round < 2; round++) {
      const killed = new Child("lock", dataDir);
      await killed.opened();
      await killed.kill();

      // Each starts, reads the lock file slowly (see test/support/embedded-child.ts), and waits
      // for the word to take the lock, so that they all act on the stale lock they read.
      const racers = Array.from({ length: 6 }, () => new Child("lock", dataDir, "race"));
      await Promise.all(racers.map((racer) => racer.waitFor((line) => line === "waiting")));
      for (const racer of racers) racer.send("go");
      const outcomes = await Promise.all(racers.map((racer) => racer.opened()));
      const winners = racers.filter((racer, i) => outcomes[i] === `ready ${racer.pid}`);
      expect(winners).toHaveLength(1);
      const [winner] = winners;
      if (winner === undefined) return;
      const losers = outcomes.filter((outcome) => outcome !== `ready ${winner.pid}`);
      expect(losers).toEqual(Array(5).fill(heldMessage(dataDir, winner.pid)));
      expect(await winner.stop()).toBe(0);
      await Promise.all(racers.map((racer) => racer.exited));
      // Nothing left behind: no lock, no takeover or temporary files.
      expect(readdirSync(dataDir)).toEqual([]);
    }
  }, 60_000);
});
