import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LOCK_FILE, lockDataDir } from "../src/drivers/pglite/data-dir-lock.js";

// Where the lock can tell a reused pid from its holder: the start time in /proc/<pid>/stat.
const hasProc = existsSync("/proc/self/stat");
// Where it can tell a lock from before the last boot (Linux).
const hasBootId = existsSync("/proc/sys/kernel/random/boot_id");

describe("lockDataDir on lock files it did not write itself", () => {
  const dir = mkdtempSync(join(tmpdir(), "dws-lock-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let next = 0;

  /** A directory whose lock file holds `holder`, as another process would have written it. */
  function lockedBy(holder: Record<string, unknown> | string): string {
    const dataDir = join(dir, `data-${next++}`);
    mkdirSync(dataDir);
    const text =
      typeof holder === "string" ? holder : JSON.stringify({ token: randomBytes(16).toString("hex"), ...holder });
    writeFileSync(join(dataDir, LOCK_FILE), text);
    return dataDir;
  }

  async function takesOver(dataDir: string): Promise<void> {
    const lock = await lockDataDir(dataDir);
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid });
    lock.release();
    expect(readdirSync(dataDir)).toEqual([]);
  }

  it("takes over the lock of a process that is gone", async () => {
    // Far above any pid_max (Linux allows at most 2^22).
    await takesOver(lockedBy({ pid: 2 ** 30, host: hostname() }));
  });

  it.runIf(hasProc)("takes over a lock whose pid is now another process's", async () => {
    // This process's pid, but not its start time: an earlier process that had the same pid, as a
    // container's first process has after every restart.
    await takesOver(lockedBy({ pid: process.pid, host: hostname(), start: "1" }));
  });

  it.runIf(hasBootId)("takes over a lock from before the last boot", async () => {
    await takesOver(lockedBy({ pid: 1, host: hostname(), boot: "an-earlier-boot" }));
  });

  it("leaves alone the lock of a process that runs", async () => {
    // pid 1 always runs; without a start time to compare, it counts as the holder.
    const dataDir = lockedBy({ pid: 1, host: hostname() });
    await expect(lockDataDir(dataDir)).rejects.toMatchObject({
      code: "CONNECTION",
      op: "connect",
      message:
        `workflow store connect: the embedded data directory ${resolve(dataDir)} is open in process 1; one process ` +
        "at a time may open it: stop that process (Ctrl-C where it runs, or kill 1), then try again",
    });
  });

  it("names the holder's process title, so that the opener knows which process to stop", async () => {
    const dataDir = lockedBy({ pid: 1, host: hostname(), title: "workflow-store watch" });
    await expect(lockDataDir(dataDir)).rejects.toMatchObject({
      message: expect.stringContaining("is open in process 1 (workflow-store watch); one process at a time"),
    });
  });

  it("leaves alone a lock from another host, whose process it cannot check", async () => {
    const dataDir = lockedBy({ pid: 2 ** 30, host: "elsewhere" });
    await expect(lockDataDir(dataDir)).rejects.toMatchObject({
      code: "CONNECTION",
      message: expect.stringContaining(`is open in process ${2 ** 30} on host elsewhere;`),
    });
  });

  it("says which file to remove when the lock file names no process", async () => {
    const dataDir = lockedBy("not a lock");
    await expect(lockDataDir(dataDir)).rejects.toMatchObject({
      code: "CONNECTION",
      message: expect.stringContaining(`the lock file ${join(resolve(dataDir), LOCK_FILE)} does not say which process`),
    });
  });
});
