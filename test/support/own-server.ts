import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./ports.js";

/**
 * A PostgreSQL server of the tests' own, for what the shared one cannot show: TLS in every mode,
 * password logins, and a server that restarts or goes away. It runs from Debian's binaries in a
 * temporary directory on a free loopback port, as the `postgres` user when the tests run as root
 * (PostgreSQL refuses root).
 */
export interface OwnServer {
  port: number;
  password: string;
  /** The CA that signed the server's certificate, issued for `localhost` only. */
  caFile: string;
  /** A CA that signed nothing the server has. */
  otherCaFile: string;
  /** `pg_ctl restart -m fast`: sessions are ended (57P01); resolves once the server accepts again. */
  restart(): Promise<void>;
  /** `pg_ctl stop -m fast`, keeping the data: the port refuses connections until `start()`. */
  halt(): Promise<void>;
  /** Starts the server again after `halt()`; does nothing when it runs. */
  start(): Promise<void>;
  /** Stops the server for good and removes its files. */
  stop(): Promise<void>;
}

const POSTGRES_BIN_ROOT = "/usr/lib/postgresql";

export function postgresBin(): string | undefined {
  if (!existsSync(POSTGRES_BIN_ROOT)) return undefined;
  const versions = readdirSync(POSTGRES_BIN_ROOT).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(POSTGRES_BIN_ROOT, v, "bin")).find((bin) => existsSync(join(bin, "initdb")));
}

function commandExists(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why an own server cannot run here, or undefined when it can. */
export function ownServerUnavailable(): string | undefined {
  if (postgresBin() === undefined) return `no PostgreSQL binaries under ${POSTGRES_BIN_ROOT}`;
  if (!commandExists("openssl")) return "no openssl to make test certificates";
  if (process.getuid?.() === 0 && !commandExists("runuser")) return "running as root without runuser";
  return undefined;
}

/**
 * Runs PostgreSQL's programs in `dir`, as the `postgres` user when the tests run as root:
 * `runAsync` without blocking the event loop, as the tests keep calling the store while pg_ctl waits.
 */
export function asPostgres(dir: string) {
  const asRoot = process.getuid?.() === 0;
  const command = (program: string, args: string[]): [string, string[]] =>
    asRoot ? ["runuser", ["-u", "postgres", "--", program, ...args]] : [program, args];
  return {
    run: (program: string, args: string[]) => execFileSync(...command(program, args), { stdio: "ignore", cwd: dir }),
    runAsync: async (program: string, args: string[]) => {
      await promisify(execFile)(...command(program, args), { cwd: dir });
    },
  };
}

function openssl(cwd: string, args: string[]): void {
  execFileSync("openssl", args, { cwd, stdio: "ignore" });
}

function makeCertificates(dir: string): void {
  const subject = (cn: string) => ["-subj", `/CN=${cn}`];
  for (const ca of ["ca", "other-ca"]) {
    openssl(dir, [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.pem`,
      "-days",
      "2",
      ...subject(`${ca} of the tests`),
    ]);
  }
  openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    ...subject("localhost"),
  ]);
  // The certificate names localhost only, so verify-full to 127.0.0.1 must fail while verify-ca passes.
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost\n");
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  ]);
}

/**
 * Starts the server; the caller must `stop()` it. With `tls` (the default) it requires TLS for every
 * login; without, it has no TLS at all. Logins take the password (scram-sha-256) either way.
 */
export async function startOwnServer({ tls = true }: { tls?: boolean } = {}): Promise<OwnServer> {
  const bin = postgresBin();
  if (bin === undefined) throw new Error("no PostgreSQL binaries");
  const dir = mkdtempSync(join(tmpdir(), "dws-own-server-"));
  const data = join(dir, "data");
  const port = await freePort();
  const password = "own-server-Secret-9";
  const { run, runAsync } = asPostgres(dir);

  makeCertificates(dir);
  writeFileSync(join(dir, "pwfile"), `${password}\n`);
  if (process.getuid?.() === 0) {
    for (const file of ["", "server.key", "server.crt", "pwfile"]) {
      chownSync(
        join(dir, file),
        Number(execFileSync("id", ["-u", "postgres"]).toString()),
        Number(execFileSync("id", ["-g", "postgres"]).toString()),
      );
    }
  }
  execFileSync("chmod", ["600", join(dir, "server.key")]);
  run(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=scram-sha-256",
    `--pwfile=${join(dir, "pwfile")}`,
    "--no-sync",
  ]);
  writeFileSync(
    join(data, "postgresql.auto.conf"),
    [
      `port = ${port}`,
      "listen_addresses = 'localhost'",
      `unix_socket_directories = '${dir}'`,
      ...(tls
        ? ["ssl = on", `ssl_cert_file = '${join(dir, "server.crt")}'`, `ssl_key_file = '${join(dir, "server.key")}'`]
        : []),
      "fsync = off",
      "",
    ].join("\n"),
  );
  // With TLS, it is required: a plain connection is turned away.
  writeFileSync(
    join(data, "pg_hba.conf"),
    (tls
      ? [
          "hostssl all all 127.0.0.1/32 scram-sha-256",
          "hostssl all all ::1/128 scram-sha-256",
          "hostnossl all all 127.0.0.1/32 reject",
          "hostnossl all all ::1/128 reject",
        ]
      : ["host all all 127.0.0.1/32 scram-sha-256", "host all all ::1/128 scram-sha-256"]
    )
      .concat("")
      .join("\n"),
  );
  const pgCtl = join(bin, "pg_ctl");
  const log = join(dir, "server.log");
  run(pgCtl, ["-D", data, "-l", log, "-w", "start"]);
  let running = true;
  return {
    port,
    password,
    caFile: join(dir, "ca.pem"),
    otherCaFile: join(dir, "other-ca.pem"),
    restart: async () => {
      await runAsync(pgCtl, ["-D", data, "-l", log, "-m", "fast", "-w", "restart"]);
      running = true;
    },
    halt: async () => {
      running = false;
      await runAsync(pgCtl, ["-D", data, "-m", "fast", "-w", "stop"]);
    },
    start: async () => {
      if (running) return;
      await runAsync(pgCtl, ["-D", data, "-l", log, "-w", "start"]);
      running = true;
    },
    stop: async () => {
      try {
        if (running) run(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        running = false;
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
