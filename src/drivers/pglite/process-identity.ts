import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Whether the process that took the lock still runs. A lock from another host cannot be checked
 * (a data directory on a network share) and counts as running. Without `/proc` (macOS, Windows) a
 * running process with the holder's pid counts as the holder, so a pid reused after a crash keeps
 * the directory locked (the error names the pid) until that process ends or the file is removed.
 */
export function isRunning(holder: Identity): boolean {
  const me = processIdentity();
  if (holder.host !== me.host) return true;
  if (holder.boot !== undefined && me.boot !== undefined && holder.boot !== me.boot) return false;
  if (!pidExists(holder.pid)) return false;
  if (me.start === undefined) return true;
  const stat = readStat(String(holder.pid));
  // No /proc entry: it exited since, or /proc hides other users' processes (hidepid).
  if (stat === undefined) return pidExists(holder.pid);
  // Exited, and not yet reaped by its parent (a zombie).
  if (stat.state === "Z") return false;
  return holder.start === undefined || holder.start === stat.start;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as { code?: unknown } | null)?.code !== "ESRCH";
  }
}

/** A process, as a lock file names it. */
export interface Identity {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (Linux), which tells a reused pid apart. */
  start?: string;
  /** `/proc/sys/kernel/random/boot_id` (Linux): a lock from before the last boot is stale. */
  boot?: string;
}

let identity: Identity | undefined;

/** This process. */
export function processIdentity(): Identity {
  if (identity === undefined) {
    const start = readStat("self")?.start;
    const boot = readProcFile("/proc/sys/kernel/random/boot_id")?.trim();
    identity = { pid: process.pid, host: hostname(), ...(start && { start }), ...(boot && { boot }) };
  }
  return identity;
}

/** State and start time (field 22) from `/proc/<pid>/stat`; undefined where there is no such file. */
function readStat(pid: string): { state: string; start: string } | undefined {
  const text = readProcFile(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const [state, start] = [fields[0], fields[19]];
  return state === undefined || start === undefined ? undefined : { state, start };
}

function readProcFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
