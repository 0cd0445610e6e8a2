// Runs README.md as a new user would: every fenced code block, in order, in a fresh folder, with
// the package as `npm pack` makes it and the registry's current versions of everything else, on a
// PostgreSQL server of its own (from the machine's PostgreSQL binaries; password logins, no TLS).
//
//   npm run check:readme [-- --tarball FILE] [-- --verbose]
//
// - bash blocks run with `bash -e -o pipefail` in the app's folder. The package is not on the
//   registry, so its name standing alone (an npm or npx argument) is replaced by the path of the
//   tarball; nothing else is changed. A block under `<!-- outside the app -->` runs in an empty
//   folder of its own, as a command meant for use outside any app.
// - ts blocks are saved as readme-<line>.ts and run with `node` (Node 22.18 and later run
//   TypeScript as it is); a block under `<!-- file: path -->` is saved at that path instead, for
//   the blocks after it. At the end every ts block is type-checked, strictly, with the registry's
//   current TypeScript.
// - sql blocks run with psql, stopping at the first error.
// - text blocks are output shown to the reader, not code; any other language fails the run.
// The blocks see DATABASE_URL naming the database `app` on that server, with its password, and no
// other PostgreSQL or npm settings. A block that fails, or runs past its time limit, fails the run.
import { type SpawnSyncOptionsWithStringEncoding, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ownServerUnavailable, startOwnServer } from "../test/support/own-server.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The package's name standing alone: an argument of npm or npx, not part of a path. */
const PACKAGE_NAME = /(?<![\w@/.-])drizzle-workflow-store(?![\w/.-])/g;
const TIME_LIMIT_MS: Record<string, number> = { bash: 300_000, ts: 60_000, sql: 30_000 };
const SHOWN_ONLY = new Set(["text"]);

interface Block {
  language: string;
  code: string;
  /** The line of README.md the code starts on. */
  line: number;
  /** Where to save it instead of running it. */
  file: string | undefined;
  /** Run it in an empty folder, not the app's. */
  outside: boolean;
}

/** A failure of the run itself (not of a block): reported, and the run exits 1. */
class RunFailure extends Error {}

/** The fenced blocks of a Markdown text, with the annotation on the line before each. */
function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  let annotation = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const open = /^(\s*)```(\S*)\s*$/.exec(line);
    if (open === null) {
      if (line.trim() !== "") annotation = line.trim();
      continue;
    }
    const [, indent = "", language = ""] = open;
    const code: string[] = [];
    const start = i + 1;
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] ?? ""); i++) {
      code.push((lines[i] ?? "").slice(indent.length));
    }
    blocks.push({
      language,
      code: `${code.join("\n")}\n`,
      line: start + 1,
      file: /^<!-- file: (\S+) -->$/.exec(annotation)?.[1],
      outside: annotation === "<!-- outside the app -->",
    });
    annotation = "";
  }
  return blocks;
}

function run(command: string, args: string[], options: Omit<SpawnSyncOptionsWithStringEncoding, "encoding">) {
  const started = Date.now();
  const result = spawnSync(command, args, { maxBuffer: 64 * 1024 * 1024, ...options, encoding: "utf8" });
  const timedOut = (result.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT";
  return {
    ok: result.status === 0 && !timedOut,
    timedOut,
    output: `${result.stdout ?? ""}${result.stderr ?? ""}`,
    stdout: result.stdout ?? "",
    seconds: ((Date.now() - started) / 1000).toFixed(1),
  };
}

/** The environment of the blocks: no settings of the run's own npm, and no PostgreSQL but the run's database. */
function blockEnv(databaseUrl: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(npm_|PG|POSTGRES_|DATABASE_URL$)/i.test(name)) env[name] = value;
  }
  return { ...env, DATABASE_URL: databaseUrl, NO_COLOR: "1" };
}

function packedTarball(args: string[], scratch: string): string {
  if (args.includes("--tarball")) return resolve(args[args.indexOf("--tarball") + 1] ?? "");
  const packed = run("npm", ["pack", "--silent", "--pack-destination", scratch], { cwd: root });
  if (!packed.ok) throw new RunFailure(`npm pack failed:\n${packed.output}`);
  return join(scratch, readdirSync(scratch).find((file) => file.endsWith(".tgz")) ?? "");
}

/** Runs one block; false when it failed, with what it printed already shown. */
function runBlock(
  block: Block,
  app: string,
  scratch: string,
  tarball: string,
  env: Record<string, string>,
  verbose: boolean,
) {
  const where = `README.md:${block.line}`;
  let result: ReturnType<typeof run>;
  const timeout = TIME_LIMIT_MS[block.language];
  if (block.language === "bash") {
    const cwd = block.outside ? mkdtempSync(join(scratch, "outside-")) : app;
    result = run("bash", ["-e", "-o", "pipefail", "-c", block.code.replace(PACKAGE_NAME, tarball)], {
      cwd,
      env,
      timeout,
    });
  } else if (block.language === "ts") {
    const file = block.file ?? `readme-${block.line}.ts`;
    mkdirSync(dirname(join(app, file)), { recursive: true });
    writeFileSync(join(app, file), block.code);
    if (block.file !== undefined) {
      console.log(`saved ${where} as ${file}`);
      return true;
    }
    result = run(process.execPath, [file], { cwd: app, env, timeout });
  } else if (block.language === "sql") {
    const file = join(scratch, `readme-${block.line}.sql`);
    writeFileSync(file, block.code);
    result = run("psql", [env.DATABASE_URL ?? "", "-v", "ON_ERROR_STOP=1", "-f", file], { cwd: app, env, timeout });
  } else {
    throw new RunFailure(`${where}: a \`\`\`${block.language || "(no language)"} block; say bash, ts, sql or text`);
  }
  console.log(`${result.ok ? "ok  " : "FAIL"} ${where} ${block.language} (${result.seconds} s)`);
  if (!result.ok || verbose) console.log(result.output.replace(/^/gm, "     | "));
  if (result.timedOut) console.log(`     did not exit within ${(timeout ?? 0) / 1000} s`);
  return result.ok;
}

/** Type-checks the ts blocks as an app that checks its code would: the registry's current TypeScript, strict. */
function typeCheck(files: string[], app: string, env: Record<string, string>): boolean {
  const installed = run("npm", ["install", "--no-save", "--no-audit", "--no-fund", "typescript", "@types/node"], {
    cwd: app,
    env,
  });
  if (!installed.ok) throw new RunFailure(`installing typescript failed:\n${installed.output}`);
  const compilerOptions = {
    target: "es2023",
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    noEmit: true,
    types: ["node"],
    skipLibCheck: true,
  };
  writeFileSync(join(app, "tsconfig.readme.json"), JSON.stringify({ compilerOptions, files }, null, 2));
  const tsc = join(app, "node_modules/.bin/tsc");
  const checked = run(tsc, ["-p", "tsconfig.readme.json"], { cwd: app, env });
  const version = run(tsc, ["--version"], { cwd: app }).stdout.trim();
  console.log(`${checked.ok ? "ok  " : "FAIL"} ${files.length} ts blocks type-check with ${version}`);
  if (!checked.ok) console.log(checked.output);
  return checked.ok;
}

async function main(args: string[]): Promise<boolean> {
  const unavailable = ownServerUnavailable();
  if (unavailable !== undefined) throw new RunFailure(`cannot start a PostgreSQL server: ${unavailable}`);
  const scratch = mkdtempSync(join(tmpdir(), "dws-readme-"));
  const tarball = packedTarball(args, scratch);
  const server = await startOwnServer({ tls: false });
  let passed = false;
  try {
    const url = (database: string) =>
      `postgres://postgres:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/${database}`;
    const created = run("psql", [url("postgres"), "-qc", "create database app"], {});
    if (!created.ok) throw new RunFailure(`creating the database failed:\n${created.output}`);
    const env = blockEnv(url("app"));
    const app = join(scratch, "app");
    mkdirSync(app);
    const blocks = codeBlocks(readFileSync(join(root, "README.md"), "utf8"));
    console.log(`README.md: ${blocks.length} blocks, in ${app}, with ${tarball}, on Node.js ${process.version}`);
    const runnable = blocks.filter((block) => !SHOWN_ONLY.has(block.language));
    passed = runnable.every((block) => runBlock(block, app, scratch, tarball, env, args.includes("--verbose")));
    const typed = runnable
      .filter((block) => block.language === "ts")
      .map((block) => block.file ?? `readme-${block.line}.ts`);
    passed &&= typeCheck(typed, app, env);
    return passed;
  } finally {
    await server.stop();
    if (passed) rmSync(scratch, { recursive: true, force: true });
    else console.log(`left ${scratch} to look at`);
  }
}

try {
  process.exitCode = (await main(process.argv.slice(2))) ? 0 : 1;
} catch (error) {
  console.error(`run-readme: ${error instanceof RunFailure ? error.message : String(error)}`);
  process.exitCode = 1;
}
