import { spawn } from "node:child_process";

/**
 * Node's flags for the test processes that run PGlite, the test workers included: V8 compiles
 * PGlite's WebAssembly with its baseline compiler only. Its optimizing tier recompiles the busy
 * functions in the background, which costs these processes more CPU than it saves them (about a
 * third of a short one's), and the suite runs on two cores.
 */
export const PGLITE_NODE_FLAGS = ["--liftoff-only"];

/** What a finished child process left. */
export interface ProcessResult {
  /** null when the process was killed (by the timeout, say). */
  code: number | null;
  stdout: string;
  /** stdout as the bytes it was, for binary output. */
  stdoutBytes: Buffer;
  stderr: string;
}

/** The environment without any database settings (libpq's `PG*` too), so a child sees only what a test gives it. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && name !== "DATABASE_URL" && !/^(POSTGRES_|PG)/.test(name)) env[name] = value;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

/**
 * Runs a command to its end (killed after `timeoutMs`, so no test hangs) and collects its output.
 * `input` goes to its stdin.
 */
export function runProcess(
  command: string,
  args: readonly string[],
  options: {
    cwd?: string;
    env?: Record<string, string>;
    input?: Uint8Array | string;
    timeoutMs?: number;
    /** Aborting kills the process, for servers a test stops itself. */
    signal?: AbortSignal;
  } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? cleanEnv(),
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 60_000,
      ...(options.signal && { signal: options.signal }),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) => {
      if (error.name !== "AbortError") reject(error);
    });
    child.on("close", (code) => {
      const stdoutBytes = Buffer.concat(stdout);
      resolve({ code, stdout: stdoutBytes.toString(), stdoutBytes, stderr: Buffer.concat(stderr).toString() });
    });
    child.stdin.end(options.input);
  });
}
