import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./ports.js";
import { cleanEnv, runProcess } from "./processes.js";

/**
 * A pg_auto_failover formation of the tests' own: a monitor and two data nodes (a primary and a
 * synchronous secondary, as pg_auto_failover sets them up), each a PostgreSQL of Debian's binaries in
 * one temporary directory on free loopback ports, run as `postgres` when the tests run as root
 * (PostgreSQL and pg_autoctl refuse root). Nothing is written outside that directory: the sockets,
 * pg_autoctl's XDG files and the logs all live in it, and `stop()` removes it.
 *
 * Every wait is bounded. The monitor's health checks are tightened (see `FormationOptions.fast`) so
 * that a primary that dies is replaced within seconds rather than the default ~50 s. Every Postgres
 * runs with `shared_buffers=32MB` (pg_autoctl would size it from the machine's memory) and
 * `fsync=off`: the tests stop processes, never the machine.
 *
 * pg_auto_failover toggles `default_transaction_read_only` to fence nodes: libpq's
 * `target_session_attrs=read-write` works with it, but postgres.js (3.4 and 4.2) reads only that
 * setting and so takes a hot standby for a read-write server on PostgreSQL 14+; with postgres.js use
 * `target_session_attrs=primary` (see hapostgres/pg_auto_failover#970).
 */

const POSTGRES_BIN_ROOT = "/usr/lib/postgresql";
const FORMATION = "default";
const DATABASE = "postgres";
const USER = "postgres";
const HOST = "127.0.0.1";

export interface FormationNode {
  host: string;
  port: number;
}

/** One row of the monitor's `pgautofailover.current_state()`, as `pg_autoctl show state --json` prints it. */
export interface NodeState {
  node_id: number;
  nodename: string;
  nodehost: string;
  nodeport: number;
  current_group_state: string;
  assigned_group_state: string;
  /** 1 healthy, 0 unhealthy, -1 not checked yet: the monitor's health check of the node. */
  health: number;
  reported_tli: number;
  reported_lsn: string;
}

/** What a failover took, from the moment it was asked for (or the primary was killed). */
export interface FailoverReport {
  from: FormationNode;
  to: FormationNode;
  /** When the failover was asked for, or the primary's Postgres was stopped (`Date.now()`). */
  startedAt: number;
  /** Until the monitor reported the other node as the primary (`wait_primary` or `primary`). */
  promotedAfterMs: number;
  /** Until the new primary first committed a write (`select txid_current()`). */
  writableAfterMs: number;
  /** Until the formation was healthy again: `failover()` only, the old primary back as a secondary. */
  healthyAfterMs?: number;
}

export interface FormationOptions {
  /** Bound on `startFormation()` and the default bound on every wait after it. Default 120 s. */
  timeoutMs?: number;
  /**
   * Tightens the monitor's failure detection (health check every second, node considered unhealthy
   * after `unhealthyTimeoutMs` without a keeper report, 3 s demote timeout). Default true; false keeps
   * pg_auto_failover's defaults (about 50 s from a dead primary to a promoted secondary).
   */
  fast?: boolean;
  /** How long the monitor waits for a keeper report before it trusts a failing health check. Default 5000 ms. */
  unhealthyTimeoutMs?: number;
}

export interface Formation {
  /** The data nodes, in the order of `url` and `dsn`. */
  nodes: FormationNode[];
  /** The monitor, as `pg_autoctl show uri --formation monitor` prints it: `postgres://autoctl_node@…/pg_auto_failover`. */
  monitorUrl: string;
  /** `postgres://postgres@h1:p1,h2:p2/postgres?target_session_attrs=read-write` */
  url: string;
  /** The same in libpq's key=value form. */
  dsn: string;
  /** The temporary directory everything lives in (removed by `stop()`). */
  dir: string;
  /** The current primary, by the monitor (waits up to `timeoutMs` while there is none). */
  primary(timeoutMs?: number): Promise<FormationNode>;
  /** The monitor's view of the data nodes. */
  state(): Promise<NodeState[]>;
  /** What the monitor hands to applications: `select pgautofailover.formation_uri()`. */
  formationUri(): Promise<string>;
  /** Until one primary and one secondary are both in their assigned state, healthy, the primary writable. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /**
   * `pg_autoctl perform failover`: the primary is demoted and the secondary promoted by the monitor.
   * Resolves once the formation is healthy again with the roles swapped.
   */
  failover(timeoutMs?: number): Promise<FailoverReport>;
  /**
   * Kills the primary's pg_autoctl (else it restarts Postgres at once) and `pg_ctl stop -m immediate`s
   * its Postgres, then waits until the monitor has promoted the other node and it takes writes. The
   * stopped node stays down, so the new primary runs alone (`wait_primary`, no synchronous standby)
   * until `restartStopped()`.
   */
  stopPrimaryHard(timeoutMs?: number): Promise<FailoverReport>;
  /** Starts pg_autoctl again on the nodes `stopPrimaryHard()` stopped; they rejoin as secondary (pg_rewind). */
  restartStopped(timeoutMs?: number): Promise<void>;
  /** The last lines of every log (pg_autoctl's and Postgres'), for error messages. */
  logTail(lines?: number): string;
  /** Stops every process and removes the directory; safe to call twice, and after a failed start. */
  stop(): Promise<void>;
}

function postgresBin(): string | undefined {
  if (!existsSync(POSTGRES_BIN_ROOT)) return undefined;
  const versions = readdirSync(POSTGRES_BIN_ROOT).sort((a, b) => Number(b) - Number(a));
  // The monitor's extension is built for one major version only: the binaries must be that version's.
  return versions
    .filter((v) => existsSync(join(POSTGRES_BIN_ROOT, v, "lib", "pgautofailover.so")))
    .map((v) => join(POSTGRES_BIN_ROOT, v, "bin"))
    .find((bin) => existsSync(join(bin, "initdb")) && existsSync(join(bin, "psql")));
}

function pgAutoctl(): string | undefined {
  const bin = postgresBin();
  const candidates = [...(bin ? [join(bin, "pg_autoctl")] : []), "/usr/bin/pg_autoctl"];
  const found = candidates.find((file) => existsSync(file));
  if (found) return found;
  try {
    return execFileSync("sh", ["-c", "command -v pg_autoctl"]).toString().trim() || undefined;
  } catch {
    return undefined;
  }
}

const asRoot = process.getuid?.() === 0;

/** Why a formation cannot run here, or undefined when it can. */
export function autoFailoverUnavailable(): string | undefined {
  if (process.platform !== "linux") return "pg_auto_failover formations need Linux (/proc)";
  if (pgAutoctl() === undefined) return "no pg_autoctl (apt-get install postgresql-15-auto-failover)";
  if (postgresBin() === undefined) return `no PostgreSQL binaries with pgautofailover.so under ${POSTGRES_BIN_ROOT}`;
  if (asRoot) {
    try {
      execFileSync("sh", ["-c", "command -v runuser && id -u postgres"], { stdio: "ignore" });
    } catch {
      return "running as root without runuser or a postgres user";
    }
  }
  return undefined;
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", name]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", name]).toString().trim());
  return { uid, gid };
}

interface ProcessInfo {
  pid: number;
  ppid: number;
  sid: number;
  comm: string;
  cmdline: string;
}

/** Live (not zombie) processes by /proc: pid, parent, session, command name and line. */
function processes(): ProcessInfo[] {
  const list: ProcessInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid pgrp session …", where comm may hold spaces and parentheses.
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      if (fields[0] === "Z") continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      list.push({ pid: Number(entry), ppid: Number(fields[1]), sid: Number(fields[3]), comm, cmdline });
    } catch {
      // Gone between readdir and read.
    }
  }
  return list;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** The postmaster's pid from `postmaster.pid`, when that process runs on `pgdata` (pids are reused). */
function postmasterPid(pgdata: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(pgdata) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  explain: () => string,
  /** A reason to give up at once (a process that should run has exited), or undefined. */
  abandon: () => string | undefined = () => undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const reason = abandon();
    if (reason) throw new Error(`pg_auto_failover: ${what}: gave up, ${reason}\n${explain()}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `\nlast error: ${lastError.message}` : "";
      throw new Error(`pg_auto_failover: ${what} not within ${timeoutMs} ms${cause}\n${explain()}`);
    }
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Starts a formation; the caller must `stop()` it (in `afterAll`). When the test process ends
 * without that (a crash, Ctrl-C, a killed worker), a watchdog process stops it and removes its files.
 */
export async function startFormation(options: FormationOptions = {}): Promise<Formation> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const fast = options.fast ?? true;
  const unhealthyTimeoutMs = options.unhealthyTimeoutMs ?? 5000;
  const reason = autoFailoverUnavailable();
  if (reason) throw new Error(`pg_auto_failover: ${reason}`);
  const pgBin = postgresBin() as string;
  const autoctl = pgAutoctl() as string;
  const startedAt = Date.now();
  const deadline = startedAt + timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());

  const dir = mkdtempSync(join(tmpdir(), "dws-auto-failover-"));
  const ids = asRoot ? userIds("postgres") : undefined;
  const sockets = join(dir, "sock");
  const bin = join(dir, "bin");
  const logs = join(dir, "logs");
  const xdg = join(dir, "xdg");
  for (const sub of [sockets, bin, logs, xdg, join(xdg, "config"), join(xdg, "data"), join(xdg, "run")]) {
    mkdirSync(sub, { recursive: true });
  }
  chmodSync(join(xdg, "run"), 0o700);

  // pg_autoctl starts `postgres` itself, from the directory of --pgctl, with `-h <listen>` and no
  // socket directory: the sockets would land in /var/run/postgresql, and the monitor would listen
  // on '*'. A `postgres` of our own next to links to the real binaries adds both settings.
  for (const name of readdirSync(pgBin)) {
    if (name !== "postgres") symlinkSync(join(pgBin, name), join(bin, name));
  }
  writeFileSync(
    join(bin, "postgres"),
    [
      "#!/bin/sh",
      `exec ${join(pgBin, "postgres")} "$@" -c listen_addresses=${HOST} -c unix_socket_directories=${sockets}` +
        " -c shared_buffers=32MB -c fsync=off",
      "",
    ].join("\n"),
  );
  chmodSync(join(bin, "postgres"), 0o755);
  if (ids) execFileSync("chown", ["-R", `${ids.uid}:${ids.gid}`, dir]);

  const env = cleanEnv({
    HOME: dir,
    XDG_CONFIG_HOME: join(xdg, "config"),
    XDG_DATA_HOME: join(xdg, "data"),
    XDG_RUNTIME_DIR: join(xdg, "run"),
    // pg_autoctl connects to its local Postgres over the socket; without a host it would look in
    // the compiled-in directory.
    PGHOST: sockets,
    PGCONNECT_TIMEOUT: "3",
  });

  /** A command as `postgres` (or as ourselves when not root), bounded. */
  const runAs = (command: string, args: string[], timeout: number) =>
    runProcess(asRoot ? "runuser" : command, asRoot ? ["-p", "-u", "postgres", "--", command, ...args] : args, {
      cwd: dir,
      env,
      timeoutMs: timeout,
    });

  const psql = (conninfo: string, sql: string[], timeout = 5000) =>
    runProcess(
      join(pgBin, "psql"),
      ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, ...sql.flatMap((s) => ["-c", s])],
      {
        env: cleanEnv({ PGCONNECT_TIMEOUT: "2" }),
        timeoutMs: timeout,
      },
    );

  interface Service {
    name: string;
    pgdata: string;
    log: string;
    /** Session ids of every pg_autoctl started for it (each is detached into its own session). */
    sessions: number[];
    children: ChildProcess[];
    /** Whether its pg_autoctl should be running (launched and not killed by us). */
    up: boolean;
    /** How its pg_autoctl ended while `up`: a crash, which ends every wait at once. */
    crashed?: string;
  }
  const services = new Map<string, Service>();
  const service = (name: string): Service => {
    let found = services.get(name);
    if (!found) {
      found = {
        name,
        pgdata: join(dir, name),
        log: join(logs, `${name}.log`),
        sessions: [],
        children: [],
        up: false,
      };
      services.set(name, found);
    }
    return found;
  };

  /** A long-running pg_autoctl, in a session of its own, its output appended to the service's log. */
  const launch = (svc: Service, args: string[]) => {
    const fd = openSync(svc.log, "a");
    if (ids) chownSync(svc.log, ids.uid, ids.gid);
    try {
      const child = spawn(autoctl, args, {
        cwd: dir,
        env,
        detached: true,
        stdio: ["ignore", fd, fd],
        ...(ids && { uid: ids.uid, gid: ids.gid }),
      });
      child.on("error", (error) => {
        svc.crashed = error.message;
      });
      child.once("exit", (code, signal) => {
        if (svc.up && svc.children.at(-1) === child) svc.crashed = `pg_autoctl ${svc.name} exited (${code ?? signal})`;
      });
      child.unref();
      svc.up = true;
      svc.crashed = undefined;
      if (child.pid !== undefined) {
        svc.sessions.push(child.pid);
        appendFileSync(join(dir, "sessions"), `${child.pid}\n`);
      }
      svc.children.push(child);
    } finally {
      closeSync(fd);
    }
  };

  /**
   * The formation's processes: pg_autoctl in the sessions we started, whatever runs on a path in
   * `dir` (the postmasters: `postgres -D <dir>/…`), and the postmasters' children (their command lines
   * are rewritten, and each is in a session of its own). Nothing else, even when pids are reused.
   */
  const ours = (all = processes()) => {
    const sessions = new Set([...services.values()].flatMap((svc) => svc.sessions));
    const postmasters = new Set(all.filter((p) => p.comm === "postgres" && p.cmdline.includes(dir)).map((p) => p.pid));
    return all.filter(
      (p) =>
        p.pid !== process.pid &&
        ((sessions.has(p.sid) && p.comm.startsWith("pg_autoctl")) ||
          p.cmdline.includes(dir) ||
          postmasters.has(p.ppid)),
    );
  };

  /** SIGKILLs the pg_autoctl processes of a service (not its Postgres) and waits until they are gone. */
  const killKeeper = async (svc: Service) => {
    svc.up = false;
    const sessions = new Set(svc.sessions);
    const keeperPids = () =>
      processes()
        .filter((p) => sessions.has(p.sid) && p.comm.startsWith("pg_autoctl"))
        .map((p) => p.pid);
    for (const pid of keeperPids()) kill(pid, "SIGKILL");
    await until(
      "pg_autoctl to die",
      10_000,
      async () => (keeperPids().length === 0 ? true : undefined),
      () => "",
    );
  };

  /** `pg_ctl stop -m immediate`, then SIGKILL for what is left of the postmaster and its children. */
  const stopPostgres = async (svc: Service, timeout = 15_000) => {
    const pid = postmasterPid(svc.pgdata);
    if (pid === undefined) return;
    const result = await runAs(
      join(pgBin, "pg_ctl"),
      ["stop", "-D", svc.pgdata, "-m", "immediate", "-w", "-t", "10"],
      timeout,
    ).catch(() => undefined);
    if (result?.code !== 0 && alive(pid)) {
      for (const child of processes().filter((p) => p.ppid === pid)) kill(child.pid, "SIGKILL");
      kill(pid, "SIGKILL");
    }
  };

  const logTail = (lines = 30) => {
    const parts: string[] = [];
    for (const svc of services.values()) {
      parts.push(`--- pg_autoctl ${svc.name} (${svc.log})\n${tail(svc.log, lines)}`);
      const serverLogs = join(svc.pgdata, "log");
      if (existsSync(serverLogs)) {
        const latest = readdirSync(serverLogs).sort().at(-1);
        if (latest)
          parts.push(`--- postgres ${svc.name} (${latest})\n${tail(join(serverLogs, latest), Math.ceil(lines / 2))}`);
      }
    }
    return parts.join("\n");
  };

  // A watchdog for when the test process ends without stop() (a crash, Ctrl-C, a killed worker):
  // a shell of its own, deaf to signals, whose stdin is a pipe from us. When that pipe closes, it
  // kills the keepers of the sessions we started, stops every Postgres and removes the directory.
  const watchdog = spawn(
    "sh",
    [
      "-c",
      [
        "trap '' INT TERM HUP QUIT",
        "cat >/dev/null",
        `for sid in $(cat '${dir}/sessions' 2>/dev/null); do`,
        '  for pid in $(ps -o pid= -s "$sid" 2>/dev/null); do',
        '    case "$(cat /proc/$pid/comm 2>/dev/null)" in pg_autoctl*) kill -KILL "$pid" 2>/dev/null;; esac',
        "  done",
        "done",
        `for pgdata in '${dir}/monitor' '${dir}/node1' '${dir}/node2'; do`,
        `  [ -f "$pgdata/postmaster.pid" ] && timeout 20 '${join(pgBin, "pg_ctl")}' stop -D "$pgdata" -m immediate -w -t 10 >/dev/null 2>&1`,
        "done",
        `rm -rf '${dir}'`,
      ].join("\n"),
    ],
    { cwd: "/", env, detached: true, stdio: ["pipe", "ignore", "ignore"], ...(ids && { uid: ids.uid, gid: ids.gid }) },
  );
  watchdog.on("error", () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    const problems: string[] = [];
    // Ours to do now; the watchdog would race us.
    if (watchdog.pid !== undefined) kill(watchdog.pid, "SIGKILL");
    try {
      // Keepers first, or they restart the Postgres we stop.
      await Promise.all(
        [...services.values()].map((svc) => killKeeper(svc).catch((e: Error) => problems.push(e.message))),
      );
      await Promise.all([...services.values()].map((svc) => stopPostgres(svc)));
      const leftovers = () => ours().map(({ pid, comm, cmdline }) => ({ pid, comm, cmdline }));
      await until(
        "every process of the formation to end",
        10_000,
        async () => (leftovers().length === 0 ? true : undefined),
        () => JSON.stringify(leftovers()),
      ).catch((error: Error) => {
        for (const p of leftovers()) kill(p.pid, "SIGKILL");
        problems.push(error.message);
      });
    } finally {
      stopped = true;
      // Seconds on a disk mounted with `discard`: not on the event loop.
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    }
    if (problems.length > 0) throw new Error(`pg_auto_failover: stop() had to force: ${problems.join("; ")}`);
  };

  const monitor = service("monitor");
  const dataNodes = [service("node1"), service("node2")];
  try {
    const ports = { monitor: await freePort(), node1: await freePort(), node2: await freePort() };
    const monitorUrl = `postgres://autoctl_node@${HOST}:${ports.monitor}/pg_auto_failover`;
    const monitorSql = async (sql: string) => {
      const result = await psql(monitorUrl, [sql]);
      if (result.code !== 0) throw new Error(`monitor query failed: ${result.stderr.trim()}`);
      return result.stdout.trim();
    };
    const state = async (): Promise<NodeState[]> =>
      JSON.parse(
        await monitorSql(
          `select coalesce(json_agg(s order by s.node_id), '[]') from pgautofailover.current_state('${FORMATION}') s`,
        ),
      ) as NodeState[];
    const explain = async () => {
      const current = await state().then(
        (rows) =>
          rows
            .map(
              (r) =>
                `${r.nodename} ${r.nodeport} ${r.current_group_state}/${r.assigned_group_state} health=${r.health}`,
            )
            .join("; "),
        (error: Error) => `(monitor unreachable: ${error.message})`,
      );
      return `state: ${current}\n${logTail()}`;
    };
    /** `until`, its error completed with the monitor's view and the logs. */
    const untilExplained = async <T>(what: string, timeout: number, probe: () => Promise<T | undefined>) => {
      try {
        return await until(
          what,
          timeout,
          probe,
          () => "",
          () => [...services.values()].find((svc) => svc.crashed)?.crashed,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message.trimEnd()}\n${await explain()}`);
      }
    };

    // The monitor.
    launch(monitor, [
      "create",
      "monitor",
      "--pgctl",
      join(bin, "pg_ctl"),
      "--pgdata",
      monitor.pgdata,
      "--pgport",
      String(ports.monitor),
      "--hostname",
      HOST,
      "--auth",
      "trust",
      "--no-ssl",
      "--run",
    ]);
    await untilExplained("the monitor to accept nodes", left(), async () =>
      (await monitorSql("select count(*) from pgautofailover.formation")) ? true : undefined,
    );
    if (fast) {
      const settings: Record<string, number> = {
        "pgautofailover.health_check_period": 1000,
        "pgautofailover.health_check_timeout": 2000,
        "pgautofailover.health_check_retry_delay": 500,
        "pgautofailover.health_check_max_retries": 1,
        "pgautofailover.node_considered_unhealthy_timeout": unhealthyTimeoutMs,
        "pgautofailover.primary_demote_timeout": 3000,
        "pgautofailover.startup_grace_period": 1000,
      };
      const result = await psql(`host=${HOST} port=${ports.monitor} user=${USER} dbname=pg_auto_failover`, [
        ...Object.entries(settings).map(([name, value]) => `alter system set ${name} = ${value}`),
        "select pg_reload_conf()",
      ]);
      if (result.code !== 0) throw new Error(`pg_auto_failover: could not tune the monitor: ${result.stderr}`);
    }

    // The data nodes: the first registers as "single", the second then clones it as a standby.
    const createNode = (svc: Service, port: number) =>
      launch(svc, [
        "create",
        "postgres",
        "--pgctl",
        join(bin, "pg_ctl"),
        "--pgdata",
        svc.pgdata,
        "--pgport",
        String(port),
        "--pghost",
        sockets,
        "--listen",
        HOST,
        "--hostname",
        HOST,
        "--name",
        svc.name,
        "--username",
        USER,
        "--dbname",
        DATABASE,
        "--monitor",
        monitorUrl,
        "--auth",
        "trust",
        "--no-ssl",
        "--run",
      ]);
    const [first, second] = dataNodes as [Service, Service];
    createNode(first, ports.node1);
    await untilExplained("the first node to run as single", left(), async () =>
      (await state()).some((n) => n.nodename === first.name && n.current_group_state === "single") ? true : undefined,
    );
    createNode(second, ports.node2);

    const nodes: FormationNode[] = [
      { host: HOST, port: ports.node1 },
      { host: HOST, port: ports.node2 },
    ];
    const nodeConninfo = (node: FormationNode) => `host=${node.host} port=${node.port} user=${USER} dbname=${DATABASE}`;
    /** Whether the node commits a write now (a stuck synchronous commit counts as no). */
    const writable = async (node: FormationNode, timeout = 3000) => {
      const result = await psql(nodeConninfo(node), ["select txid_current()"], timeout);
      return result.code === 0;
    };
    const nodeOf = (row: NodeState): FormationNode => ({ host: row.nodehost, port: row.nodeport });
    const isPrimaryRow = (r: NodeState) =>
      ["primary", "wait_primary", "single"].includes(r.current_group_state) &&
      r.current_group_state === r.assigned_group_state;

    const healthyNow = async (): Promise<FormationNode | undefined> => {
      const rows = await state();
      if (rows.length !== 2) return undefined;
      const primaryRow = rows.find((r) => r.current_group_state === "primary" && r.assigned_group_state === "primary");
      const secondaryRow = rows.find(
        (r) => r.current_group_state === "secondary" && r.assigned_group_state === "secondary",
      );
      if (!primaryRow || !secondaryRow || primaryRow.health !== 1 || secondaryRow.health !== 1) return undefined;
      const primaryNode = nodeOf(primaryRow);
      const check = await psql(nodeConninfo(primaryNode), [
        "select pg_is_in_recovery()::text || ' ' || current_setting('synchronous_standby_names')",
      ]);
      // Synchronous replication, as pg_auto_failover sets it up: 'ANY 1 (pgautofailover_standby_N)'.
      if (check.code !== 0 || !/^false ANY 1 \(/.test(check.stdout.trim())) return undefined;
      return (await writable(primaryNode)) ? primaryNode : undefined;
    };
    const waitHealthy = async (timeout = timeoutMs) => {
      await untilExplained("a healthy formation (one primary, one secondary)", timeout, healthyNow);
    };
    const primary = async (timeout = timeoutMs) =>
      untilExplained("a primary", timeout, async () => {
        const row = (await state()).find(isPrimaryRow);
        return row ? nodeOf(row) : undefined;
      });

    await waitHealthy(left());

    const sameNode = (a: FormationNode, b: FormationNode) => a.host === b.host && a.port === b.port;
    const serviceOf = (node: FormationNode) => {
      const index = nodes.findIndex((n) => sameNode(n, node));
      const svc = dataNodes[index];
      if (!svc) throw new Error(`pg_auto_failover: no data node on port ${node.port}`);
      return svc;
    };
    /** After the primary changed: until the monitor names the other node and it commits a write. */
    const promotion = async (from: FormationNode, started: number, timeout: number) => {
      let promotedAt = 0;
      const to = await untilExplained("the other node to be promoted and take writes", timeout, async () => {
        const row = (await state()).find((r) => isPrimaryRow(r) && !sameNode(nodeOf(r), from));
        if (!row) return undefined;
        promotedAt ||= Date.now();
        const node = nodeOf(row);
        return (await writable(node, 2000)) ? node : undefined;
      });
      return { to, startedAt: started, promotedAfterMs: promotedAt - started, writableAfterMs: Date.now() - started };
    };
    const stoppedNodes = new Set<Service>();

    const formation: Formation = {
      nodes,
      monitorUrl,
      url: `postgres://${USER}@${nodes.map((n) => `${n.host}:${n.port}`).join(",")}/${DATABASE}?target_session_attrs=read-write`,
      dsn: `host=${nodes.map((n) => n.host).join(",")} port=${nodes.map((n) => n.port).join(",")} user=${USER} dbname=${DATABASE} target_session_attrs=read-write`,
      dir,
      primary,
      state,
      formationUri: () => monitorSql(`select pgautofailover.formation_uri('${FORMATION}')`),
      waitHealthy,
      logTail,
      failover: async (timeout = timeoutMs) => {
        const bound = Date.now() + timeout;
        await waitHealthy(timeout);
        const from = await primary(Math.max(1000, bound - Date.now()));
        const started = Date.now();
        const waitSeconds = Math.max(5, Math.ceil((bound - Date.now()) / 1000));
        // --monitor works though `perform failover --help` does not list it; --group 0 avoids a
        // harmless "invalid input syntax for type integer" error it logs without.
        const performing = runAs(
          autoctl,
          [
            "perform",
            "failover",
            "--monitor",
            monitorUrl,
            "--formation",
            FORMATION,
            "--group",
            "0",
            "--wait",
            String(waitSeconds),
          ],
          waitSeconds * 1000 + 5000,
        ).catch((error: Error) => ({ code: null, stderr: error.message }));
        const report = await promotion(from, started, Math.max(1000, bound - Date.now()));
        const result = await performing;
        if (result.code !== 0) {
          throw new Error(`pg_autoctl perform failover exited ${result.code}: ${result.stderr}\n${logTail()}`);
        }
        await waitHealthy(Math.max(1000, bound - Date.now()));
        return { from, ...report, healthyAfterMs: Date.now() - started };
      },
      stopPrimaryHard: async (timeout = timeoutMs) => {
        const bound = Date.now() + timeout;
        await waitHealthy(timeout);
        const from = await primary(Math.max(1000, bound - Date.now()));
        const svc = serviceOf(from);
        const started = Date.now();
        // The keeper would restart Postgres within a second, and the monitor would never fail over.
        await killKeeper(svc);
        await stopPostgres(svc);
        stoppedNodes.add(svc);
        return { from, ...(await promotion(from, started, Math.max(1000, bound - Date.now()))) };
      },
      restartStopped: async (timeout = timeoutMs) => {
        for (const svc of stoppedNodes) launch(svc, ["run", "--pgdata", svc.pgdata]);
        stoppedNodes.clear();
        await waitHealthy(timeout);
      },
      stop,
    };
    return formation;
  } catch (error) {
    const logs = logTail();
    await stop().catch(() => {});
    const message = (error as Error).message;
    throw new Error(message.includes("--- pg_autoctl") ? message : `${message}\n${logs}`);
  }
}
