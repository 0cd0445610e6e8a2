import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StoreError } from "../../core/errors.js";
import { translateError } from "../../postgres/translate.js";
import { type Identity, isRunning, processIdentity } from "./process-identity.js";

/**
 * The file inside a PGlite data directory that names the process holding the directory open. Two
 * PGlite instances on one directory each keep their own buffers and overwrite each other's pages,
 * losing acknowledged writes, so only one process at a time may hold it.
 */
export const LOCK_FILE = "workflow-store.lock";

/** A data directory this process holds; {@link lockDataDir} takes it. */
export interface DataDirLock {
  /** The directory, as an absolute path. */
  readonly directory: string;
  /** Deletes the lock file if it is still this lock's. Synchronous, so that it can run on `exit`; never throws. */
  release(): void;
}

/**
 * What a lock file holds: who holds the lock and how to tell, later, whether that process still
 * runs. `token` makes every lock unique, so that a lock is never mistaken for another with the
 * same pid.
 */
interface Holder extends Identity {
  token: string;
  /** When the lock was taken, for people reading the file. */
  since: string;
  /** The holder's `process.title` (`workflow-store watch`, `node`), so that an opener it turns away knows which process to stop. */
  title?: string;
}

/** A running process holds the file; thrown inside this module, turned into a StoreError at its door. */
class Held {
  constructor(readonly holder: Holder) {}
}

// A stale lock is replaced by whoever holds `<lock>.<stale token>.break`; that file can itself be
// left stale by a process killed while replacing, and so on, but only so many times.
const MAX_BREAK_DEPTH = 3;
// How often a lock may change hands under one opener (other openers taking over a stale lock)
// before it gives up; each round waits a few milliseconds.
const MAX_ATTEMPTS = 100;
// A lock file written without a hard link (see createFile) is empty for an instant; read it again.
const UNREADABLE_RETRIES = 20;
// Filesystems that cannot make hard links (FAT, some network shares) answer link() with these.
const LINK_UNSUPPORTED = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV", "EMLINK"]);
const TOKEN = /^[0-9a-f]{16,64}$/;

const held = new Set<DataDirLock>();
let exitHookInstalled = false;

/**
 * Takes the lock on a PGlite data directory for this process, creating the directory (and its
 * parents) if needed, before PGlite opens it. Rejects with a `CONNECTION` {@link StoreError} when
 * another running process, or another store in this one, holds it. A lock whose process is gone
 * (killed, crashed, or from before a reboot) is taken over; when several openers find the same
 * stale lock at once, exactly one gets it. The lock is released by `release()` or, if the process
 * exits normally without it, on `exit`.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const directory = resolve(dir);
  const file = join(directory, LOCK_FILE);
  const me: Holder = {
    ...processIdentity(),
    token: randomBytes(16).toString("hex"),
    since: new Date().toISOString(),
    title: process.title,
  };
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    await claim(file, me, 0);
  } catch (error) {
    if (error instanceof Held) throw heldError(directory, error.holder);
    throw translateError(error, { op: "connect" });
  }
  const lock: DataDirLock = {
    directory,
    release() {
      if (!held.delete(lock)) return;
      removeIfMine(file, me.token);
    },
  };
  held.add(lock);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const open of held) open.release();
    });
  }
  return lock;
}

function heldError(directory: string, holder: Holder): StoreError {
  const me = processIdentity();
  const holderName = `process ${holder.pid}${holder.title ? ` (${holder.title})` : ""}`;
  let detail = `the embedded data directory ${directory} is open in `;
  if (holder.host !== me.host) {
    detail +=
      `${holderName} on host ${holder.host}; one process at a time may open it: stop that process, or, if it is gone, ` +
      `delete ${join(directory, LOCK_FILE)}`;
  } else if (holder.pid === me.pid) {
    detail += "this process; one store at a time may open it: close the other store first";
  } else {
    detail +=
      `${holderName}; one process at a time may open it: stop that process (Ctrl-C where it runs, or kill ${holder.pid}), ` +
      "then try again";
  }
  return new StoreError("CONNECTION", { op: "connect" }, detail);
}

/** Makes `file` name `me`, taking it over from a holder that no longer runs; throws {@link Held} otherwise. */
async function claim(file: string, me: Holder, depth: number): Promise<void> {
  let holder: Holder | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (createFile(file, me)) return;
    holder = await readHolder(file);
    // Released between our attempt and the read: try again.
    if (holder === undefined) continue;
    if (isRunning(holder)) throw new Held(holder);
    if (await takeOver(file, holder, me, depth)) return;
    await sleep(5 + Math.random() * 20);
  }
  throw new StoreError(
    "CONNECTION",
    { op: "connect" },
    `could not take the lock file ${file}: it changed hands ${MAX_ATTEMPTS} times` +
      (holder === undefined ? "" : `, last to process ${holder.pid}`),
  );
}

/**
 * Replaces the stale lock in `file` with `me`. Removing a stale file and creating a new one would
 * let two openers that found it at once both win (the second removes the first's fresh lock), so
 * the right to replace it goes to whoever creates `<file>.<stale token>.break` — one process, as
 * that is an exclusive create — and it checks, holding that, that the file still holds the stale
 * lock. Returns false when someone else is taking it over or has taken it.
 */
async function takeOver(file: string, stale: Holder, me: Holder, depth: number): Promise<boolean> {
  if (depth >= MAX_BREAK_DEPTH) {
    throw new StoreError(
      "CONNECTION",
      { op: "connect" },
      `could not take over the stale lock file ${file}: its process ${stale.pid} is gone, but so are ` +
        `${MAX_BREAK_DEPTH} processes that began to take it over; remove ${file} and its .break files if ` +
        "no process has the directory open",
    );
  }
  const breaker = `${file}.${stale.token}.break`;
  try {
    await claim(breaker, me, depth + 1);
  } catch (error) {
    if (error instanceof Held) return false;
    throw error;
  }
  try {
    const current = await readHolder(file);
    if (current?.token !== stale.token) return false;
    writeThenRename(file, me);
    return true;
  } finally {
    removeIfMine(breaker, me.token);
  }
}

/**
 * Creates `file` holding `me` unless it exists; false if it does. The content is written to a file
 * of our own first and linked into place, so that no reader ever sees the lock file half-written.
 */
function createFile(file: string, me: Holder): boolean {
  const temp = writeTemp(file, me);
  try {
    linkSync(temp, file);
    return true;
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    if (LINK_UNSUPPORTED.has(errorCode(error) ?? "")) return createExclusive(file, me);
    throw error;
  } finally {
    unlinkQuietly(temp);
  }
}

/** Where there are no hard links: an exclusive create, which readers may see empty for an instant. */
function createExclusive(file: string, me: Holder): boolean {
  let fd: number;
  try {
    fd = openSync(file, "wx");
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, serialize(me));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function writeThenRename(file: string, me: Holder): void {
  const temp = writeTemp(file, me);
  try {
    renameSync(temp, file);
  } catch (error) {
    unlinkQuietly(temp);
    throw error;
  }
}

/** A file of this lock's own beside `file`, holding `me`, flushed so that a power cut leaves no empty lock. */
function writeTemp(file: string, me: Holder): string {
  const temp = `${file}.${me.token}.tmp`;
  const fd = openSync(temp, "w");
  try {
    writeSync(fd, serialize(me));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return temp;
}

function serialize(holder: Holder): string {
  return `${JSON.stringify(holder)}\n`;
}

/** The holder `file` names, or undefined when there is no file. */
async function readHolder(file: string): Promise<Holder | undefined> {
  for (let attempt = 0; ; attempt++) {
    const holder = readHolderOnce(file);
    if (holder !== "unreadable") return holder;
    if (attempt === UNREADABLE_RETRIES) {
      throw new StoreError(
        "CONNECTION",
        { op: "connect" },
        `the lock file ${file} does not say which process holds it; remove it if no process has the directory open`,
      );
    }
    await sleep(10);
  }
}

function readHolderOnce(file: string): Holder | undefined | "unreadable" {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
  try {
    return parseHolder(JSON.parse(text));
  } catch {
    return "unreadable";
  }
}

function parseHolder(value: unknown): Holder | "unreadable" {
  if (typeof value !== "object" || value === null) return "unreadable";
  const { pid, host, start, boot, token, since, title } = value as Record<string, unknown>;
  // A pid of 0 or below would make process.kill() signal a process group.
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) return "unreadable";
  // The token becomes part of a file name (the .break file): hex only.
  if (typeof host !== "string" || typeof token !== "string" || !TOKEN.test(token)) return "unreadable";
  return {
    pid,
    host,
    token,
    since: typeof since === "string" ? since : "",
    ...(typeof start === "string" && { start }),
    ...(typeof boot === "string" && { boot }),
    ...(typeof title === "string" && { title }),
  };
}

/** Deletes `file` if it holds the lock with this token. Never throws: a file left behind is a stale lock, taken over later. */
function removeIfMine(file: string, token: string): void {
  try {
    const holder = readHolderOnce(file);
    if (typeof holder === "object" && holder.token === token) unlinkSync(file);
  } catch {
    // Left behind; the next opener finds this process gone and takes the lock over.
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone, or left as litter that no lock depends on.
  }
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
