import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../src/cli/io.js";
import { runCli } from "../src/cli/program.js";
import { type Connection, connectEmbedded } from "../src/index.js";
import { copyNewDataDir } from "./support/pglite-template.js";
import { databaseUrl, freshDatabase, skipReason } from "./support/postgres.js";
import { cleanEnv, PGLITE_NODE_FLAGS, runProcess } from "./support/processes.js";

const BIN = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const COMMANDS = [
  "migrate",
  "status",
  "get",
  "set",
  "ls",
  "rm",
  "count",
  "purge",
  "watch",
  "stats",
  "guard-migrations",
];
const EXIT = { OK: 0, ERROR: 1, USAGE: 2, NOT_FOUND: 3, CONNECTION: 4 };
const PASSWORD = "s3cret-pw";

/** The tests' environment without any database settings, so that the CLI falls back to the embedded store. */
const embeddedEnv = cleanEnv();

interface CliResult {
  code: number | null;
  stdout: Buffer;
  out: string;
  err: string;
}

/**
 * Runs the built bin and collects what it wrote; a run that hangs is killed and fails the test.
 * For what only a process shows: its exit code as a shell sees it, signals, a second process
 * turned away by an embedded data directory's lock, a terminal.
 */
async function run(
  args: string[],
  options: { env?: Record<string, string>; input?: Uint8Array } = {},
): Promise<CliResult> {
  const result = await runProcess(process.execPath, [...PGLITE_NODE_FLAGS, BIN, ...args], {
    env: options.env ?? embeddedEnv,
    ...(options.input && { input: options.input }),
  });
  if (result.code === null) throw new Error(`workflow-store ${args.join(" ")} was killed`);
  return { code: result.code, stdout: result.stdoutBytes, out: result.stdout, err: result.stderr };
}

/** A stream that keeps what is written to it, as a pipe that is not a terminal would take it. */
function collector() {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return {
    stream,
    bytes: async () => {
      stream.end();
      await finished(stream);
      return Buffer.concat(chunks);
    },
  };
}

/**
 * Runs the command line in this process, as the bin does (the same `runCli`), with its own
 * arguments, environment, stdin, stdout, stderr and signals, and collects what it wrote. Each run
 * starts afresh: what one said or set is not seen by the next. `connectEmbedded` opens an embedded
 * data directory, `connectEmbedded` itself unless the test keeps the directory open.
 */
async function runInProcess(
  args: string[],
  options: { env?: Record<string, string>; input?: Uint8Array; connectEmbedded?: CliIo["connectEmbedded"] } = {},
): Promise<CliResult> {
  const stdout = collector();
  const stderr = collector();
  const code = await runCli({
    args,
    env: options.env ?? embeddedEnv,
    cwd: process.cwd(),
    stdin: Readable.from(options.input === undefined ? [] : [options.input]),
    stdout: stdout.stream,
    stderr: stderr.stream,
    // Signals of its own: the test runner's process is not interrupted by them, nor they by it.
    signals: new EventEmitter(),
    setTitle: () => {},
    connectEmbedded: options.connectEmbedded ?? connectEmbedded,
  });
  const out = await stdout.bytes();
  return { code, stdout: out, out: out.toString(), err: (await stderr.bytes()).toString() };
}

/** A database the CLI is pointed at, and a way to read and change it behind the CLI's back. */
interface Target {
  /** The global options that name this database. */
  args: string[];
  query(text: string): Promise<Record<string, unknown>[]>;
  /** How in-process runs open the embedded data directory, when the test keeps it open. */
  connectEmbedded?: CliIo["connectEmbedded"];
  /** Closes what the test keeps open, so that a process of its own can open the database. */
  release(): Promise<void>;
  dispose(): Promise<void>;
}

interface Backend {
  name: string;
  enabled: boolean;
  /**
   * A database of its own. `created`: one that exists but that the store was never set up in,
   * for a case about anything but what the CLI does to a database it has not seen before;
   * otherwise one that nothing has touched yet.
   */
  open(options?: { created?: boolean }): Promise<Target>;
}

const scratch = mkdtempSync(join(tmpdir(), "dws-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * An embedded data directory kept open across in-process runs, as a long-lived app keeps it:
 * opening one starts PGlite on it, which is slow, and each run would open it again. Each run
 * gets a connection whose close leaves the directory open; the test reads and writes behind the
 * CLI's back on the same one (one opener at a time may have a directory). `release` closes it.
 */
function keptOpen(dataDir: string) {
  let opened: Promise<Connection> | undefined;
  const open = () => {
    opened ??= connectEmbedded({ dataDir }).catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
    return opened;
  };
  return {
    connectEmbedded: async (options: { dataDir: string }): Promise<Connection> => {
      if (options.dataDir !== dataDir) return connectEmbedded(options);
      const { db, label } = await open();
      return { db, label, close: async () => {} };
    },
    query: async (text: string) => {
      const { db } = await open();
      return ((await db.execute(sql.raw(text))) as unknown as { rows: Record<string, unknown>[] }).rows;
    },
    release: async () => {
      const connection = opened;
      opened = undefined;
      await (await connection)?.close();
    },
  };
}

async function openEmbedded(options: { created?: boolean } = {}): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "dws-cli-"));
  const dataDir = join(dir, "data");
  if (options.created) copyNewDataDir(dataDir);
  const kept = keptOpen(dataDir);
  return {
    args: ["--data-dir", dataDir],
    ...kept,
    dispose: async () => {
      await kept.release();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(): Promise<Target> {
  const database = await freshDatabase("cli");
  const { client } = database.connect();
  return {
    args: ["--url", database.url],
    query: async (text) => [...(await client.unsafe(text))],
    release: async () => {},
    dispose: database.drop,
  };
}

const backends: Backend[] = [
  { name: "the embedded store", enabled: true, open: openEmbedded },
  { name: `PostgreSQL${skipReason}`, enabled: databaseUrl !== null, open: openPostgres },
];

function uniquePrefix(name: string): string {
  return `/${name}/${randomUUID().slice(0, 8)}`;
}

function expectExit(result: CliResult, code: number): void {
  expect(result.code, `exit code; stderr was: ${result.err}`).toBe(code);
}

/** The objects of `--json` output: one JSON document per line. */
function jsonLines(out: string): unknown[] {
  return out
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

for (const backend of backends) {
  describe.skipIf(!backend.enabled)(`workflow-store on ${backend.name}`, () => {
    const targets: Target[] = [];
    const fresh = async (options: { created?: boolean } = {}) => {
      const target = await backend.open(options);
      targets.push(target);
      return target;
    };
    const cli = (target: Target, args: string[], input?: Uint8Array) =>
      runInProcess([...target.args, ...args], {
        ...(input !== undefined && { input }),
        ...(target.connectEmbedded !== undefined && { connectEmbedded: target.connectEmbedded }),
      });
    let shared: Target;

    beforeAll(async () => {
      shared = await fresh({ created: true });
      expectExit(await cli(shared, ["migrate"]), EXIT.OK);
    });
    afterEach(async () => {
      // A case's own databases close with it; the shared one stays open for the next case.
      for (const target of targets) if (target !== shared) await target.release();
    });
    afterAll(async () => {
      for (const target of targets.splice(0)) await target.dispose();
    });

    it("migrates a fresh database once, then says it is up to date", async () => {
      const target = await fresh();
      const before = await cli(target, ["status"]);
      expectExit(before, EXIT.OK);
      if (backend.open === openEmbedded) {
        // Looking creates nothing.
        expect(before.out).toBe(
          `database  the embedded store in ${target.args[1]} (--data-dir): not created yet (migrate or a data command creates it)\n`,
        );
        expect(existsSync(target.args[1] ?? "")).toBe(false);
      } else {
        expect(before.out).toMatch(/^journal +drizzle\.__workflow_store_migrations$/m);
        expect(before.out).toMatch(/^table +public\.workflow_store missing$/m);
        expect(before.out).toMatch(/^pending +0000_workflow_store$/m);
      }

      const first = await cli(target, ["migrate"]);
      expectExit(first, EXIT.OK);
      expect(first.out).toMatch(/^applied 0000_workflow_store/m);
      const second = await cli(target, ["migrate"]);
      expectExit(second, EXIT.OK);
      expect(second.out).toMatch(/^up to date/);

      const after = await cli(target, ["status"]);
      expect(after.out).toMatch(/^table +public\.workflow_store exists$/m);
      expect(after.out).toMatch(/^applied +0000_workflow_store$/m);
      expect(after.out).not.toMatch(/^pending/m);
      expect(after.err).toBe("");
    }, 60_000);

    it("prints the pending SQL on migrate --dry-run and changes nothing", async () => {
      const target = await fresh({ created: true });
      const dryRun = await cli(target, ["migrate", "--dry-run"]);
      expectExit(dryRun, EXIT.OK);
      expect(dryRun.out).toMatch(/^-- 0000_workflow_store$/m);
      expect(dryRun.out).toMatch(/CREATE TABLE IF NOT EXISTS "workflow_store"/);
      expect((await cli(target, ["status"])).out).toMatch(/^pending +0000_workflow_store$/m);
      const [row] = await target.query("select to_regclass('workflow_store') is not null as exists");
      expect(row?.exists).toBe(false);
    }, 60_000);

    it("warns in status when the journal says applied but the table is gone, and migrate re-creates it", async () => {
      const target = await fresh({ created: true });
      expectExit(await cli(target, ["migrate"]), EXIT.OK);
      await target.query("drop table workflow_store");
      const status = await cli(target, ["status"]);
      expectExit(status, EXIT.OK);
      expect(status.out).toMatch(/^table +public\.workflow_store missing$/m);
      expect(status.err).toContain("run `workflow-store migrate` to re-create it");
      expectExit(await cli(target, ["migrate"]), EXIT.OK);
      expect((await cli(target, ["status"])).out).toMatch(/^table +public\.workflow_store exists$/m);
    }, 60_000);

    if (backend.open === openEmbedded) {
      it("migrates an embedded directory on first use, and says it created it", async () => {
        const target = await fresh();
        const first = await cli(target, ["count", "p"]);
        expectExit(first, EXIT.OK);
        expect(first.out).toBe("0\n");
        expect(first.err).toMatch(/^workflow-store: created the embedded store in \S+data \(--data-dir\)\n$/);
        const again = await cli(target, ["set", "p", "k", "v"]);
        expectExit(again, EXIT.OK);
        expect(again.err).toBe("");
      }, 60_000);
    } else {
      it("never migrates a server from a data command: a missing table says to run migrate", async () => {
        const target = await fresh();
        for (const args of [["count", "p"], ["ls", "p"], ["stats"], ["purge", "--older-than", "1d", "--dry-run"]]) {
          const result = await cli(target, args);
          expectExit(result, EXIT.ERROR);
          const [what, where] = result.err.split("\n");
          expect(what).toBe(
            `workflow-store: ${args[0]}: there is no workflow_store table in schema public: run \`workflow-store migrate\` first`,
          );
          expect(where).toMatch(/^workflow-store: using PostgreSQL \S+@\S+ \(from --url\)$/);
        }
        const [row] = await target.query("select to_regclass('workflow_store') is not null as exists");
        expect(row?.exists).toBe(false);
      }, 60_000);
    }

    it("round-trips a value through set and get in every format", async () => {
      const prefix = uniquePrefix("formats");
      const document = { name: "plan", steps: [1, 2, 3], done: false };
      expectExit(await cli(shared, ["set", prefix, "doc", JSON.stringify(document)]), EXIT.OK);
      const get = (format: string) => cli(shared, ["get", prefix, "doc", "--format", format]);

      expect((await cli(shared, ["get", prefix, "doc"])).out).toBe(`${JSON.stringify(document)}\n`);
      expect((await get("utf8")).out).toBe(`${JSON.stringify(document)}\n`);
      expect((await get("hex")).out).toBe(`${Buffer.from(JSON.stringify(document)).toString("hex")}\n`);
      expect((await get("base64")).out).toBe(`${Buffer.from(JSON.stringify(document)).toString("base64")}\n`);
      expect((await get("raw")).stdout).toEqual(Buffer.from(JSON.stringify(document)));
      const json = await get("json");
      expectExit(json, EXIT.OK);
      expect(json.out).toBe(`${JSON.stringify(document, null, 2)}\n`);

      expectExit(await cli(shared, ["set", prefix, "text", "héllo wörld"]), EXIT.OK);
      expect((await cli(shared, ["get", prefix, "text"])).out).toBe("héllo wörld\n");
      const notJson = await cli(shared, ["get", prefix, "text", "--format", "json"]);
      expectExit(notJson, EXIT.ERROR);
      expect(notJson.err).toMatch(/^workflow-store: get: the value is not JSON/);
      expect(notJson.out).toBe("");
    }, 60_000);

    it("stores the exact bytes of stdin with `set … -` and gives them back with --format raw", async () => {
      const prefix = uniquePrefix("binary");
      // Every byte value, NUL and 0xff among them, and sequences that are not UTF-8.
      const bytes = Buffer.concat([
        Buffer.from([0x00, 0xff, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0x00]),
        Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      ]);
      expectExit(await cli(shared, ["set", prefix, "blob", "-"], bytes), EXIT.OK);
      const raw = await cli(shared, ["get", prefix, "blob", "--format", "raw"]);
      expectExit(raw, EXIT.OK);
      expect(raw.stdout.equals(bytes)).toBe(true);
      expect((await cli(shared, ["get", prefix, "blob", "--format", "hex"])).out).toBe(`${bytes.toString("hex")}\n`);

      const [row] = await shared.query(
        `select encode(value, 'hex') as hex from workflow_store where prefix = '${prefix}' and key = 'blob'`,
      );
      expect(row?.hex).toBe(bytes.toString("hex"));

      expectExit(await cli(shared, ["set", prefix, "empty", "-"], Buffer.alloc(0)), EXIT.OK);
      const empty = await cli(shared, ["get", prefix, "empty", "--format", "raw"]);
      expectExit(empty, EXIT.OK);
      expect(empty.stdout.length).toBe(0);
    }, 60_000);

    it("lists keys in byte order with sizes and update times, paged with --after and --limit", async () => {
      const prefix = uniquePrefix("ls");
      const values: Record<string, string> = { b: "bb", B: "B", a: "aaa", é: "ééé", Z: "" };
      for (const [key, value] of Object.entries(values)) {
        expectExit(await cli(shared, ["set", prefix, key, value]), EXIT.OK);
      }
      const byteOrder = ["B", "Z", "a", "b", "é"];
      const stored = await shared.query(
        `select key, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "updatedAt"
         from workflow_store where prefix = '${prefix}'`,
      );
      const updatedAt = new Map(stored.map((row) => [row.key as string, row.updatedAt as string]));
      const expected = byteOrder.map((key) => ({
        key,
        size: Buffer.byteLength(values[key] ?? ""),
        updatedAt: updatedAt.get(key),
      }));

      const text = await cli(shared, ["ls", prefix]);
      expectExit(text, EXIT.OK);
      expect(text.out).toBe(expected.map((row) => `${row.key}\t${row.size}\t${row.updatedAt}\n`).join(""));

      const json = await cli(shared, ["ls", prefix, "--json"]);
      expectExit(json, EXIT.OK);
      expect(jsonLines(json.out)).toEqual(expected);

      const firstPage = jsonLines((await cli(shared, ["ls", prefix, "--json", "--limit", "2"])).out);
      expect(firstPage).toEqual(expected.slice(0, 2));
      const nextPage = await cli(shared, ["ls", prefix, "--json", "--limit", "2", "--after", expected[1]?.key ?? ""]);
      expect(jsonLines(nextPage.out)).toEqual(expected.slice(2, 4));
      const lastPage = await cli(shared, ["ls", prefix, "--json", "--after", "b"]);
      expect(jsonLines(lastPage.out)).toEqual(expected.slice(4));

      const none = await cli(shared, ["ls", uniquePrefix("nothing"), "--json"]);
      expectExit(none, EXIT.OK);
      expect(none.out).toBe("");
      expect((await cli(shared, ["ls", uniquePrefix("nothing")])).out).toBe("");
    }, 60_000);

    it("escapes tabs, newlines and backslashes of keys in text output, and keeps them in --json", async () => {
      const prefix = uniquePrefix("escape");
      const key = "a\tb\nc\\d";
      expectExit(await cli(shared, ["set", prefix, key, "v"]), EXIT.OK);
      expect((await cli(shared, ["ls", prefix])).out).toMatch(/^a\\tb\\nc\\\\d\t1\t\S+\n$/);
      expect(jsonLines((await cli(shared, ["ls", prefix, "--json"])).out)).toMatchObject([{ key }]);
      const watched = await cli(shared, ["watch", prefix, "--from-revision", "0", "--count", "1"]);
      expect(watched.out).toMatch(/^\d+\tset\ta\\tb\\nc\\\\d\n$/);
    }, 60_000);

    it("removes a key with rm, and exits 3 when there is no such key", async () => {
      const prefix = uniquePrefix("rm");
      expectExit(await cli(shared, ["set", prefix, "k", "v"]), EXIT.OK);
      expectExit(await cli(shared, ["rm", prefix, "k"]), EXIT.OK);
      const again = await cli(shared, ["rm", prefix, "k"]);
      expectExit(again, EXIT.NOT_FOUND);
      // The command the user typed, not the store call it made (removeMany), and which store it used.
      const [what, where] = again.err.split("\n");
      expect(what).toBe(`workflow-store: rm: no key "k" in prefix "${prefix}"`);
      expect(where).toMatch(/^workflow-store: using (PostgreSQL|the embedded store in) /);
      const get = await cli(shared, ["get", prefix, "k"]);
      expectExit(get, EXIT.NOT_FOUND);
      expect(get.out).toBe("");
      expect(get.err).toMatch(/^workflow-store: get: no key "k"/);
    }, 60_000);

    it("watch replays a prefix's changes after a revision, in revision order, and stops after --count", async () => {
      const prefix = uniquePrefix("watch");
      for (const key of ["a", "b"]) expectExit(await cli(shared, ["set", prefix, key, key]), EXIT.OK);
      expectExit(await cli(shared, ["rm", prefix, "a"]), EXIT.OK);
      const watched = await cli(shared, ["watch", prefix, "--from-revision", "0", "--count", "2", "--json"]);
      expectExit(watched, EXIT.OK);
      const lines = watched.out
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { revision: number; type: string; key: string });
      // The set of a is replaced by its remove; b's set comes first, as its revision is lower.
      expect(lines.map(({ type, key }) => [type, key])).toEqual([
        ["set", "b"],
        ["remove", "a"],
      ]);
      expect(lines[0]?.revision).toBeLessThan(lines[1]?.revision ?? 0);
      const plain = await cli(shared, ["watch", prefix, "--from-revision", String(lines[0]?.revision), "--count", "1"]);
      expect(plain.out).toBe(`${lines[1]?.revision}\tremove\ta\n`);
      expectExit(await cli(shared, ["watch", prefix, "--from-revision", "-1"]), EXIT.USAGE);
    }, 60_000);

    if (backend.open === openEmbedded)
      it("watch says it holds the embedded directory, and a second command is told which process to stop", async () => {
        const target = await fresh({ created: true });
        expectExit(await cli(target, ["set", "p", "k", "v"]), EXIT.OK);
        // The processes below open the directory themselves.
        await target.release();
        const watch = spawn(process.execPath, [...PGLITE_NODE_FLAGS, BIN, ...target.args, "watch", "p"], {
          env: embeddedEnv,
        });
        const exited = new Promise<number | null>((resolve) => watch.once("exit", (code) => resolve(code)));
        let err = "";
        await new Promise<void>((resolve, reject) => {
          watch.stderr.on("data", (chunk: Buffer) => {
            err += chunk.toString();
            if (err.includes("Ctrl-C stops")) resolve();
          });
          watch.once("exit", () => reject(new Error(`watch exited early: ${err}`)));
        });
        try {
          expect(err).toContain(`watch holds the embedded store in ${target.args[1]} (pid ${watch.pid})`);
          // A second process, turned away by the lock the first holds.
          const refused = await run([...target.args, "count", "p"]);
          expectExit(refused, EXIT.CONNECTION);
          expect(refused.err.split("\n")[0]).toBe(
            `workflow-store: count: the embedded data directory ${target.args[1]} is open in process ${watch.pid} ` +
              `(workflow-store watch); one process at a time may open it: stop that process (Ctrl-C where it runs, ` +
              `or kill ${watch.pid}), then try again`,
          );
        } finally {
          watch.kill("SIGINT");
        }
        expect(await exited).toBe(0);
        expect((await cli(target, ["count", "p"])).out).toBe("1\n");
      }, 60_000);

    // Only a server: another process cannot write an embedded data directory while watch has it open.
    if (backend.open !== openEmbedded)
      it("watch prints changes other clients commit while it runs", async () => {
        const prefix = uniquePrefix("live");
        expectExit(await cli(shared, ["set", prefix, "seed", "s"]), EXIT.OK);
        const [seed] = await shared.query(`select revision::int as r from workflow_store where prefix = '${prefix}'`);
        // From the seed's revision, so that changes made before it listens are replayed, not lost.
        const watching = cli(shared, ["watch", prefix, "--from-revision", String(seed?.r), "--count", "2"]);
        expectExit(await cli(shared, ["set", prefix, "k", "v"]), EXIT.OK);
        expectExit(await cli(shared, ["rm", prefix, "seed"]), EXIT.OK);
        const watched = await watching;
        expectExit(watched, EXIT.OK);
        expect(watched.out.replace(/^\d+\t/gm, "")).toBe("set\tk\nremove\tseed\n");
      }, 60_000);

    it("counts the keys of a prefix", async () => {
      const prefix = uniquePrefix("count");
      expect((await cli(shared, ["count", prefix])).out).toBe("0\n");
      for (const key of ["a", "b", "c"]) expectExit(await cli(shared, ["set", prefix, key, key]), EXIT.OK);
      const count = await cli(shared, ["count", prefix]);
      expectExit(count, EXIT.OK);
      expect(count.out).toBe("3\n");
    }, 60_000);

    it("counts on purge --dry-run and removes on purge, comparing timestamps in UTC", async () => {
      const prefix = uniquePrefix("purge");
      const other = uniquePrefix("purge-other");
      for (const key of ["old1", "old2", "old3", "recent", "new"]) {
        expectExit(await cli(shared, ["set", prefix, key, "v"]), EXIT.OK);
      }
      expectExit(await cli(shared, ["set", other, "old", "v"]), EXIT.OK);
      // Two hours old against a 90-minute cutoff and one hour old: a time zone mix-up of the
      // database (UTC+5:45) or of the process (UTC-3:30) would put them on the wrong side.
      const age = (interval: string, where: string) =>
        shared.query(`update workflow_store set updated_at = now() - interval '${interval}' where ${where}`);
      await age("2 hours", `prefix = '${prefix}' and key like 'old%'`);
      await age("1 hour", `prefix = '${prefix}' and key = 'recent'`);
      await age("2 hours", `prefix = '${other}'`);

      const dryRun = await cli(shared, ["purge", "--older-than", "90m", "--prefix", prefix, "--dry-run"]);
      expectExit(dryRun, EXIT.OK);
      expect(dryRun.out).toBe("3\n");
      expect(dryRun.err).toMatch(/^workflow-store: dry run: 3 rows updated before /);
      expect((await cli(shared, ["count", prefix])).out).toBe("5\n");
      // An ISO date-time without an offset is UTC, whatever TZ the process runs in.
      const utcWithoutOffset = new Date(Date.now() - 90 * 60_000).toISOString().slice(0, 19);
      const byIso = await cli(shared, ["purge", "--older-than", utcWithoutOffset, "--prefix", prefix, "--dry-run"]);
      expectExit(byIso, EXIT.OK);
      expect(byIso.out).toBe("3\n");

      const purge = await cli(shared, ["purge", "--older-than", "90m", "--prefix", prefix, "--batch-size", "2"]);
      expectExit(purge, EXIT.OK);
      expect(purge.out).toBe("3\n");
      // Not a terminal: one plain line per batch.
      expect(purge.err).toBe("workflow-store: purged 2 of 3 rows\nworkflow-store: purged 3 of 3 rows\n");
      expect((await cli(shared, ["ls", prefix])).out).toMatch(/^new\t.*\nrecent\t/);
      expect((await cli(shared, ["count", other])).out).toBe("1\n");

      const byDate = await cli(shared, ["purge", "--older-than", "2000-01-01", "--prefix", other]);
      expectExit(byDate, EXIT.OK);
      expect(byDate.out).toBe("0\n");
      const everyPrefix = await cli(shared, ["purge", "--older-than", "90m", "--dry-run"]);
      expect(everyPrefix.out).toBe("1\n");
      expect(everyPrefix.err).toMatch(/^workflow-store: dry run: 1 row updated before /);
      expect((await cli(shared, ["purge", "--older-than", "90m"])).out).toBe("1\n");
      expect((await cli(shared, ["count", other])).out).toBe("0\n");
    }, 90_000);

    it("shows a progress bar while purging when stderr is a terminal", async () => {
      const prefix = uniquePrefix("bar");
      for (const key of ["a", "b", "c"]) expectExit(await cli(shared, ["set", prefix, key, "v"]), EXIT.OK);
      await shared.query(
        `update workflow_store set updated_at = now() - interval '2 hours' where prefix = '${prefix}'`,
      );
      // The process below opens the database itself.
      await shared.release();
      const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
      const command = [
        process.execPath,
        ...PGLITE_NODE_FLAGS,
        BIN,
        ...shared.args,
        "purge",
        "--older-than",
        "90m",
        "--prefix",
        prefix,
      ];
      // script(1) runs the command on a pseudo-terminal and copies what it shows to stdout.
      const result = await runProcess("script", ["-qec", command.map(quote).join(" "), "/dev/null"], {
        env: embeddedEnv,
      });
      expect(result.code, result.stdout).toBe(0);
      expect(result.stdout).toContain("purging [");
      expect(result.stdout).toContain("100% | 3/3 rows");
      expect(result.stdout).not.toContain("purged 3 of 3 rows");
    }, 60_000);

    it("prints rows and bytes per prefix, largest first, limited by --top", async () => {
      const target = await fresh({ created: true });
      expectExit(await cli(target, ["migrate"]), EXIT.OK);
      const sets: [string, string, string][] = [
        ["small", "a", "x"],
        ["small", "b", "x"],
        ["small", "c", "x"],
        ["big", "a", "x".repeat(1000)],
        ["mid", "a", "y".repeat(100)],
        ["mid", "b", "y".repeat(100)],
      ];
      for (const [prefix, key, value] of sets) expectExit(await cli(target, ["set", prefix, key, value]), EXIT.OK);

      const stats = await cli(target, ["stats"]);
      expectExit(stats, EXIT.OK);
      expect(stats.out).toBe("big\t1\t1000\nmid\t2\t200\nsmall\t3\t3\n");
      const top = await cli(target, ["stats", "--top", "2", "--json"]);
      expectExit(top, EXIT.OK);
      expect(jsonLines(top.out)).toEqual([
        { prefix: "big", rows: 1, bytes: 1000 },
        { prefix: "mid", rows: 2, bytes: 200 },
      ]);
    }, 60_000);

    it("puts the table and its rows in another PostgreSQL schema with --schema", async () => {
      const target = await fresh({ created: true });
      const inTenant = (args: string[]) => cli(target, [...args, "--schema", "tenant_a"]);
      const migrate = await inTenant(["migrate"]);
      expectExit(migrate, EXIT.OK);
      expect(migrate.out).toMatch(/^applied 0000_workflow_store .*schema tenant_a/m);
      expect((await inTenant(["status"])).out).toMatch(/^table +tenant_a\.workflow_store exists$/m);
      expectExit(await inTenant(["set", "p", "k", "tenant value"]), EXIT.OK);
      expect((await inTenant(["get", "p", "k"])).out).toBe("tenant value\n");
      expect((await inTenant(["ls", "p"])).out).toMatch(/^k\t12\t/);

      const rows = await target.query(
        "select prefix, key, convert_from(value, 'UTF8') as value from tenant_a.workflow_store",
      );
      expect(rows).toEqual([{ prefix: "p", key: "k", value: "tenant value" }]);
      const [publicTable] = await target.query("select to_regclass('public.workflow_store') is not null as exists");
      expect(publicTable?.exists).toBe(false);
      const inPublic = await cli(target, ["get", "p", "k"]);
      if (backend.open === openEmbedded) {
        // The embedded directory is migrated on first use, in the schema asked for.
        expectExit(inPublic, EXIT.NOT_FOUND);
      } else {
        expectExit(inPublic, EXIT.ERROR);
        expect(inPublic.err).toContain("run `workflow-store migrate`");
      }
    }, 60_000);
  });
}

describe.skipIf(databaseUrl === null)(`workflow-store as a process, as a shell sees it${skipReason}`, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let url: string[];
  beforeAll(async () => {
    database = await freshDatabase("cli_process");
    url = ["--url", database.url];
    expectExit(await runInProcess([...url, "migrate"]), EXIT.OK);
  });
  afterAll(() => database?.drop());

  it("exits 3 when get or rm finds no key, and 1 when a value is not JSON", async () => {
    expectExit(await runInProcess([...url, "set", "p", "text", "not json"]), EXIT.OK);
    for (const command of ["get", "rm"]) {
      const missing = await run([...url, command, "p", "missing"]);
      expectExit(missing, EXIT.NOT_FOUND);
      expect(missing.err.split("\n")[0]).toBe(`workflow-store: ${command}: no key "missing" in prefix "p"`);
    }
    const notJson = await run([...url, "get", "p", "text", "--format", "json"]);
    expectExit(notJson, EXIT.ERROR);
    expect(notJson.err).toMatch(/^workflow-store: get: the value is not JSON/);
  });

  it("exits 0 and says nothing when the reader of its output goes away (EPIPE)", async () => {
    // Far more lines than a pipe holds, so that ls is still writing when the reader leaves.
    const { client } = database.connect();
    await client.unsafe(
      "insert into workflow_store (prefix, key, value) select 'many', 'key-' || n, '\\x00' from generate_series(1, 20000) n",
    );
    const ls = spawn(process.execPath, [...PGLITE_NODE_FLAGS, BIN, ...url, "ls", "many"], { env: embeddedEnv });
    let err = "";
    ls.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    // The reader takes the first chunk and closes its end, as `head -1` does.
    ls.stdout.once("data", () => ls.stdout.destroy());
    const [code] = await once(ls, "exit");
    expect({ code, err }).toEqual({ code: EXIT.OK, err: "" });
  });
});

describe.skipIf(databaseUrl === null)(`workflow-store finds PostgreSQL in the environment${skipReason}`, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    database = await freshDatabase("cli_env");
    expectExit(await runInProcess(["migrate", "--url", database.url]), EXIT.OK);
  });
  afterAll(() => database?.drop());

  it("uses DATABASE_URL when there is no --url", async () => {
    const env = { ...embeddedEnv, DATABASE_URL: database.url };
    expectExit(await runInProcess(["set", "env", "k", "from DATABASE_URL"], { env }), EXIT.OK);
    const status = await runInProcess(["status"], { env });
    expect(status.out).toMatch(/^database +postgres /m);
    expect((await runInProcess(["get", "env", "k", "--url", database.url])).out).toBe("from DATABASE_URL\n");
  });

  it("uses the POSTGRES_* variables when there is no --url and no DATABASE_URL", async () => {
    const url = new URL(database.url);
    const env = {
      ...embeddedEnv,
      POSTGRES_HOST: url.hostname,
      POSTGRES_PORT: url.port || "5432",
      POSTGRES_USER: decodeURIComponent(url.username),
      POSTGRES_PASSWORD: decodeURIComponent(url.password),
      POSTGRES_DB: url.pathname.slice(1),
    };
    expectExit(await runInProcess(["set", "env", "pg", "from POSTGRES_*"], { env }), EXIT.OK);
    expect((await runInProcess(["get", "env", "pg", "--url", database.url])).out).toBe("from POSTGRES_*\n");
  });
});

describe("workflow-store without a database", () => {
  it.each(["", ...COMMANDS])("prints help and exits 0 for `%s --help`", async (command) => {
    const result = await runInProcess(command === "" ? ["--help"] : [command, "--help"]);
    expectExit(result, EXIT.OK);
    expect(result.out).toContain(`Usage: workflow-store${command === "" ? "" : ` ${command}`}`);
    expect(result.out).toContain("--url <url>");
    expect(result.out).toContain("--data-dir <dir>");
    expect(result.out).toContain("--schema <name>");
    expect(result.out).toMatch(/Exit codes:\n {2}0 {2}success\n {2}1 {2}other error\n {2}2 {2}usage error/);
    expect(result.out).toContain("3  not found");
    expect(result.out).toContain("4  connection error");
  });

  it.each([
    ["an unknown option", ["count", "p", "--bogus"]],
    ["an unknown command", ["frobnicate"]],
    ["no command", []],
    ["a missing argument", ["get", "p"]],
    ["an unknown format", ["get", "p", "k", "--format", "xml"]],
    ["a limit of 0", ["ls", "p", "--limit", "0"]],
    ["a limit that is not a number", ["ls", "p", "--limit", "ten"]],
    ["a --top that is not a number", ["stats", "--top", "-1"]],
    ["purge without --older-than", ["purge"]],
    ["an age without a unit", ["purge", "--older-than", "30"]],
    ["an age in weeks", ["purge", "--older-than", "2w"]],
    ["a date that is not ISO", ["purge", "--older-than", "yesterday"]],
    ["a cutoff in the future", ["purge", "--older-than", "2999-01-01"]],
    ["a connection string that is not one", ["count", "p", "--url", "postgres://u:pw@host:notaport/db"]],
  ])("exits 2 on %s", async (_case, args) => {
    const result = await run(args);
    expectExit(result, EXIT.USAGE);
    expect(result.err).toMatch(/^workflow-store: |^Usage: workflow-store/);
    expect(result.err).not.toMatch(/^\s+at /m);
  });

  it("guard-migrations says what keeps it from the folder: none there, a file, or the error it got", async () => {
    const base = mkdtempSync(join(scratch, "guard-"));
    const missing = await runInProcess(["guard-migrations", join(base, "none")]);
    expectExit(missing, EXIT.USAGE);
    expect(missing.err).toContain(`no migrations folder at ${join(base, "none")}`);
    const file = join(base, "file.sql");
    writeFileSync(file, "");
    const notFolder = await runInProcess(["guard-migrations", file]);
    expectExit(notFolder, EXIT.USAGE);
    expect(notFolder.err).toContain(`${file} is not a folder`);
    // A name too long for the filesystem: neither missing nor a file, and the message says so.
    const tooLong = join(base, "x".repeat(300));
    const failed = await runInProcess(["guard-migrations", tooLong]);
    expectExit(failed, EXIT.ERROR);
    expect(failed.err).toContain("ENAMETOOLONG");
  });

  const long = "p".repeat(256);
  it.each([
    ["get", [long, "k"], "prefix"],
    ["set", [long, "k", "v"], "prefix"],
    ["rm", [long, "k"], "prefix"],
    ["ls", [long], "prefix"],
    ["ls", ["p", "--after", long], "key"],
    ["count", [long], "prefix"],
    ["watch", [long], "prefix"],
    ["purge", ["--older-than", "1d", "--prefix", long], "prefix"],
    ["get", ["p", long], "key"],
  ])("%s %s: exits 2 with the library's message before opening anything", async (command, args, what) => {
    const dataDir = join(mkdtempSync(join(scratch, "never-")), "never");
    const result = await runInProcess([command, ...args, "--data-dir", dataDir]);
    expectExit(result, EXIT.USAGE);
    expect(result.err.split("\n")[0]).toBe(
      `workflow-store: ${command}: ${what} is 256 characters long; at most 255 fit`,
    );
    expect(existsSync(dataDir)).toBe(false);
  });

  it.each([
    ["--url", (url: string) => ({ args: ["count", "p", "--url", url], env: embeddedEnv })],
    ["DATABASE_URL", (url: string) => ({ args: ["count", "p"], env: { ...embeddedEnv, DATABASE_URL: url } })],
  ])("exits 4 when the server named by %s cannot be reached, and never shows the password", async (_how, make) => {
    const { args, env } = make(`postgres://u:${PASSWORD}@127.0.0.1:1/db`);
    const result = await run(args, { env });
    expectExit(result, EXIT.CONNECTION);
    expect(result.err).toMatch(/^workflow-store: .*connect/);
    expect(result.err).not.toMatch(/^\s+at /m);
    expect(`${result.out}${result.err}`).not.toContain(PASSWORD);
  });
});
