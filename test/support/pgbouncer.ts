import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./ports.js";

const PGBOUNCER = "/usr/sbin/pgbouncer";

/** Why PgBouncer cannot run here, or undefined when it can. */
export function pgBouncerUnavailable(): string | undefined {
  if (!existsSync(PGBOUNCER)) return `no ${PGBOUNCER} (apt-get install pgbouncer)`;
  if (process.getuid?.() === 0) {
    try {
      execFileSync("sh", ["-c", "command -v runuser"], { stdio: "ignore" });
    } catch {
      return "running as root without runuser";
    }
  }
  return undefined;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1")
        .once("connect", () => resolve(socket.end() !== undefined))
        .once("error", () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`pgbouncer did not listen on ${port}: ${log()}`);
}

/**
 * A PgBouncer of the test's own in transaction mode, in front of the server `serverUrl` names, with
 * `serverConnections` server connections per database and user: fewer than the clients, so that
 * clients' transactions share them as behind any transaction-mode pooler. Runs as `postgres` when
 * the tests run as root (PgBouncer refuses root). `url(database)` is the pooler's address.
 */
export async function startPgBouncer(serverUrl: string, serverConnections = 2) {
  const server = new URL(serverUrl);
  const dir = mkdtempSync(join(tmpdir(), "dws-pgbouncer-"));
  const port = await freePort();
  const user = decodeURIComponent(server.username) || "postgres";
  writeFileSync(join(dir, "users.txt"), `"${user}" ""\n`);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    `[databases]
* = host=${server.hostname} port=${server.port || 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, "users.txt")}
pool_mode = transaction
default_pool_size = ${serverConnections}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options,statement_timeout,lock_timeout
logfile = ${join(dir, "pgbouncer.log")}
pidfile =
`,
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { uid, gid } = userIds("postgres");
    for (const file of ["", "users.txt", "pgbouncer.ini"]) chownSync(join(dir, file), uid, gid);
  }
  const args = [join(dir, "pgbouncer.ini")];
  const child = asRoot
    ? spawn("runuser", ["-u", "postgres", "--", PGBOUNCER, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(PGBOUNCER, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  try {
    await waitForPort(port, child, () => output);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: (database: string) => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", name]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", name]).toString().trim());
  return { uid, gid };
}
