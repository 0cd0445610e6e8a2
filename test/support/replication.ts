import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";
import { asPostgres, postgresBin } from "./own-server.js";
import { freePort } from "./ports.js";

/**
 * A primary and a streaming standby of the tests' own, the standby made with `pg_basebackup -R`
 * as an operator makes one: both from Debian's binaries in one temporary directory on free
 * loopback ports (as `postgres` when the tests run as root), trust logins on loopback.
 */
export interface ReplicatedPair {
  primaryUrl: string;
  standbyUrl: string;
  /** `pg_wal_replay_pause()` on the standby: it keeps receiving and stops applying, so it lags. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Until the standby has applied everything the primary had written when this was called. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** `pg_ctl stop -m immediate` on the standby: its port refuses connections until `startStandby()`. */
  haltStandby(): Promise<void>;
  startStandby(): Promise<void>;
  /** Stops both servers and removes their files. */
  stop(): Promise<void>;
}

/** Why a pair cannot run here, or undefined when it can. */
export function replicationUnavailable(): string | undefined {
  return postgresBin() === undefined ? "no PostgreSQL binaries under /usr/lib/postgresql" : undefined;
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`replication: ${what} not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export async function startReplicatedPair(): Promise<ReplicatedPair> {
  const bin = postgresBin() as string;
  const dir = mkdtempSync(join(tmpdir(), "dws-replication-"));
  const { run, runAsync } = asPostgres(dir);
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString());
    chownSync(dir, id("-u"), id("-g"));
  }
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const primaryData = join(dir, "primary");
  const standbyData = join(dir, "standby");
  const pgCtl = join(bin, "pg_ctl");
  const clients: postgres.Sql[] = [];
  const connect = (port: number) => {
    const client = postgres({
      host: "127.0.0.1",
      port,
      user: "postgres",
      database: "postgres",
      max: 1,
      onnotice: () => {},
    });
    clients.push(client);
    return client;
  };
  const settings = (port: number) =>
    [`port = ${port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`, "fsync = off", ""].join(
      "\n",
    );
  let standbyRunning = false;
  const stop = async () => {
    await Promise.all(clients.map((client) => client.end({ timeout: 1 })));
    for (const data of [standbyData, primaryData]) {
      try {
        run(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Not running.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run(join(bin, "initdb"), ["-D", primaryData, "-U", "postgres", "--auth=trust", "--no-sync"]);
    writeFileSync(join(primaryData, "postgresql.auto.conf"), settings(primaryPort));
    writeFileSync(
      join(primaryData, "pg_hba.conf"),
      ["host all all 127.0.0.1/32 trust", "host replication all 127.0.0.1/32 trust", ""].join("\n"),
    );
    run(pgCtl, ["-D", primaryData, "-l", join(dir, "primary.log"), "-w", "start"]);
    // -R writes standby.signal and the primary's address; -X stream copies the WAL alongside.
    await runAsync(join(bin, "pg_basebackup"), [
      "-D",
      standbyData,
      "-h",
      "127.0.0.1",
      "-p",
      String(primaryPort),
      "-U",
      "postgres",
      "-R",
      "-X",
      "stream",
      "--no-sync",
    ]);
    writeFileSync(
      join(standbyData, "postgresql.auto.conf"),
      `${settings(standbyPort)}primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres'\n`,
    );
    const startStandby = async () => {
      await runAsync(pgCtl, ["-D", standbyData, "-l", join(dir, "standby.log"), "-w", "start"]);
      standbyRunning = true;
    };
    await startStandby();
    const primary = connect(primaryPort);
    const standby = connect(standbyPort);
    await until("the standby streaming", 30_000, async () => {
      const [row] = await primary`select count(*)::int as n from pg_stat_replication where state = 'streaming'`;
      return row?.n === 1;
    });
    return {
      primaryUrl: `postgres://postgres@127.0.0.1:${primaryPort}/postgres`,
      standbyUrl: `postgres://postgres@127.0.0.1:${standbyPort}/postgres`,
      pauseReplay: async () => {
        await standby`select pg_wal_replay_pause()`;
      },
      resumeReplay: async () => {
        await standby`select pg_wal_replay_resume()`;
      },
      caughtUp: async (timeoutMs = 30_000) => {
        const [{ lsn }] = (await primary`select pg_current_wal_lsn()::text as lsn`) as unknown as [{ lsn: string }];
        await until("the standby catching up", timeoutMs, async () => {
          const [row] = await standby`select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as done`;
          return row?.done === true;
        });
      },
      haltStandby: async () => {
        standbyRunning = false;
        await runAsync(pgCtl, ["-D", standbyData, "-m", "immediate", "-w", "stop"]);
      },
      startStandby: async () => {
        if (!standbyRunning) await startStandby();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
