import { copyFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "./support/ports.js";
import { databaseUrl, freshDatabasePerBlock, skipReason } from "./support/postgres.js";
import { cleanEnv, type ProcessResult, runProcess } from "./support/processes.js";

// An app already on Drizzle (test/fixtures/app: its own package.json, schema, drizzle-kit config),
// with the package installed from the tarball `npm pack` made, as a user installs it.
const fixture = new URL("./fixtures/app/", import.meta.url).pathname;

describe.skipIf(databaseUrl === null)(`an app on Drizzle with the packed package installed${skipReason}`, () => {
  let app = "";
  const fresh = freshDatabasePerBlock();

  beforeAll(async () => {
    app = join(mkdtempSync(join(tmpdir(), "dws-app-")), "app");
    cpSync(fixture, app, { recursive: true });
    const installed = await runProcess(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", inject("tarball")],
      { cwd: app, timeoutMs: 110_000 },
    );
    expect(installed.code, installed.stderr).toBe(0);
  });
  afterAll(() => {
    if (app !== "") rmSync(join(app, ".."), { recursive: true, force: true });
  });
  afterEach(async () => {
    // Each case starts from the fixture's schema, without migrations of its own yet.
    rmSync(join(app, "drizzle"), { recursive: true, force: true });
    rmSync(join(app, "src/db/workflow-store.ts"), { force: true });
  });

  const inApp = (command: string, args: string[], env: Record<string, string>, timeoutMs = 60_000) =>
    runProcess(command, args, { cwd: app, env: cleanEnv(env), timeoutMs });
  const drizzleKit = (url: string, ...args: string[]) =>
    inApp(process.execPath, ["node_modules/drizzle-kit/bin.cjs", ...args], { DATABASE_URL: url });
  const workflowStore = (url: string, ...args: string[]) =>
    inApp("node_modules/.bin/workflow-store", args, { DATABASE_URL: url });
  const runApp = (url: string, run: string, autoMigrate = true) =>
    inApp(process.execPath, ["--import", "tsx", "src/app.ts", run], {
      DATABASE_URL: url,
      AUTO_MIGRATE: String(autoMigrate),
    });
  const ok = (result: ProcessResult) => {
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    return result;
  };
  const listTheTable = () =>
    copyFileSync(join(app, "variants/workflow-store.ts"), join(app, "src/db/workflow-store.ts"));
  const stopListingTheTable = () => rmSync(join(app, "src/db/workflow-store.ts"));
  const appMigrationSql = () =>
    readdirSync(join(app, "drizzle"))
      .filter((file) => file.endsWith(".sql"))
      .sort()
      .map((file) => readFileSync(join(app, "drizzle", file), "utf8"));
  const storeKeys = async (url: string) => {
    const client = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return (await client`select key from workflow_store order by key`).map((row) => row.key as string);
    } finally {
      await client.end();
    }
  };

  it("runs the package's migrations with the shipped drizzle-kit config, from DATABASE_URL or POSTGRES_*", async () => {
    const config = "node_modules/drizzle-workflow-store/drizzle.config.ts";
    const byUrl = await fresh("kiturl");
    ok(await drizzleKit(byUrl.url, "migrate", "--config", config));
    ok(await drizzleKit(byUrl.url, "migrate", "--config", config));
    expect(ok(await workflowStore(byUrl.url, "migrate")).stdout).toContain("up to date");
    expect(ok(await workflowStore(byUrl.url, "status")).stdout).toContain("applied");

    const byParts = await fresh("kitparts");
    const url = new URL(byParts.url);
    const parts = {
      POSTGRES_HOST: url.hostname,
      POSTGRES_PORT: url.port,
      POSTGRES_USER: decodeURIComponent(url.username),
      POSTGRES_DB: url.pathname.slice(1),
    };
    ok(await inApp(process.execPath, ["node_modules/drizzle-kit/bin.cjs", "migrate", "--config", config], parts));
    // The app's own migrations, for its own table, keep their own journal.
    ok(await drizzleKit(byParts.url, "generate"));
    ok(await drizzleKit(byParts.url, "migrate"));
    expect(ok(await runApp(byParts.url, "1", false)).stdout).toContain("keys: 1");
    const client = postgres(byParts.url, { max: 1 });
    try {
      const journals = await client`select table_schema || '.' || table_name as name from information_schema.tables
                                    where table_name like '%migrations' order by 1`;
      expect(journals.map((row) => row.name)).toEqual([
        "drizzle.__drizzle_migrations",
        "drizzle.__workflow_store_migrations",
      ]);
    } finally {
      await client.end();
    }
  });

  it("opens Drizzle Studio on the table with the shipped config", async () => {
    const database = await fresh("studio");
    ok(await workflowStore(database.url, "migrate"));
    ok(await workflowStore(database.url, "set", "/dag/", "wf", "plan"));
    const port = String(await freePort());
    const stop = new AbortController();
    const studio = runProcess(
      process.execPath,
      [
        "node_modules/drizzle-kit/bin.cjs",
        "studio",
        "--config",
        "node_modules/drizzle-workflow-store/drizzle.config.ts",
        "--port",
        port,
      ],
      { cwd: app, env: cleanEnv({ DATABASE_URL: database.url }), timeoutMs: 40_000, signal: stop.signal },
    );
    try {
      let answer: unknown;
      for (let attempt = 0; attempt < 60 && answer === undefined; attempt++) {
        await sleep(500);
        answer = await fetch(`http://127.0.0.1:${port}/`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            type: "proxy",
            data: { sql: "select key from workflow_store", params: [], mode: "object", method: "all" },
          }),
        })
          .then((response) => response.json())
          .catch(() => undefined);
      }
      expect(answer).toEqual([{ key: "wf" }]);
    } finally {
      stop.abort();
      await studio;
    }
    // Studio can take most of the 30 s it is given to answer on a loaded machine.
  }, 60_000);

  it("lets the app own the tables in its migrations (autoMigrate: false) once the package's migrations added the triggers, and the store start on them either way", async () => {
    const database = await fresh("appowns");
    listTheTable();
    ok(await drizzleKit(database.url, "generate"));
    ok(await drizzleKit(database.url, "migrate"));
    // drizzle-kit cannot write triggers: a store refuses the table until the package's migrations add them.
    const refused = await runApp(database.url, "1", false);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("lacks the triggers of migrations 0004_revisions and 0005");
    ok(await workflowStore(database.url, "migrate"));
    expect(ok(await runApp(database.url, "1", false)).stdout).toContain("keys: 1");
    // App first, store later with the default autoMigrate: the table is adopted, rows and all.
    expect(ok(await runApp(database.url, "2", true)).stdout).toContain("keys: 1,2");
    expect(ok(await workflowStore(database.url, "status")).stdout).toContain("applied");
  });

  it("store first, then the app lists the table: drizzle-kit's 42P07 has a one-step way out, with no data lost", async () => {
    const database = await fresh("storefirst");
    ok(await drizzleKit(database.url, "generate"));
    ok(await drizzleKit(database.url, "migrate"));
    ok(await runApp(database.url, "1", true));
    listTheTable();
    ok(await drizzleKit(database.url, "generate"));
    // As drizzle-kit generates it, the app's migration fails on the table the store made.
    const failed = await drizzleKit(database.url, "migrate");
    expect(failed.code).not.toBe(0);
    expect(await storeKeys(database.url)).toEqual(["1"]);
    // The way out the README gives: guard the app's migrations, then migrate.
    const guarded = ok(await workflowStore(database.url, "guard-migrations", "drizzle"));
    expect(guarded.stdout).toContain('CREATE TABLE IF NOT EXISTS "workflow_store"');
    ok(await drizzleKit(database.url, "migrate"));
    expect(ok(await runApp(database.url, "2", false)).stdout).toContain("keys: 1,2");
    // A second run changes nothing.
    expect(ok(await workflowStore(database.url, "guard-migrations", "drizzle")).stdout).toContain("nothing to change");
  });

  it("the app stops listing the table: its DROP TABLE is kept out, the rows stay, and the package owns the table again", async () => {
    const database = await fresh("appdrops");
    listTheTable();
    ok(await drizzleKit(database.url, "generate"));
    ok(await drizzleKit(database.url, "migrate"));
    ok(await workflowStore(database.url, "migrate"));
    ok(await runApp(database.url, "1", false));
    stopListingTheTable();
    ok(await drizzleKit(database.url, "generate"));
    expect(appMigrationSql().at(-1)).toContain('DROP TABLE "workflow_store"');
    ok(await workflowStore(database.url, "guard-migrations"));
    expect(appMigrationSql().at(-1)).not.toMatch(/^DROP TABLE "workflow_store"/m);
    ok(await drizzleKit(database.url, "migrate"));
    expect(await storeKeys(database.url)).toEqual(["1"]);
    expect(ok(await runApp(database.url, "2", true)).stdout).toContain("keys: 1,2");
  });

  it("drizzle-kit push keeps the table with tablesFilter, and without it the store creates the dropped table again", async () => {
    const database = await fresh("push");
    ok(await workflowStore(database.url, "migrate"));
    ok(await workflowStore(database.url, "set", "/dag/", "wf", "plan"));
    const push = (protect: boolean) =>
      inApp(process.execPath, ["node_modules/drizzle-kit/bin.cjs", "push", "--force"], {
        DATABASE_URL: database.url,
        ...(protect && { PROTECT_WORKFLOW_STORE: "1" }),
      });
    const sequenceFile = join(app, "src/db/workflow-store-sequence.ts");
    copyFileSync(join(app, "variants/workflow-store-sequence.ts"), sequenceFile);
    try {
      ok(await push(true));
    } finally {
      rmSync(sequenceFile);
    }
    expect(await storeKeys(database.url)).toEqual(["wf"]);
    // The sequence of revisions and the other tables are kept too: the store still writes.
    ok(await workflowStore(database.url, "set", "/dag/", "wf2", "plan"));
    ok(await push(false));
    const status = ok(await workflowStore(database.url, "status")).stdout;
    expect(status).toContain("missing");
    expect(ok(await runApp(database.url, "1", true)).stdout).toContain("keys: 1");
  });

  it("needs only the driver it uses: a missing one is a CONFIG error naming the package", async () => {
    // The fixture installs postgres only: neither PGlite nor pg.
    const script = `
      import { createEmbeddedStore, StoreError } from "drizzle-workflow-store";
      try { await createEmbeddedStore(); } catch (error) {
        console.log(error instanceof StoreError, error.code, error.message);
      }`;
    const result = ok(await inApp(process.execPath, ["--input-type=module", "-e", script], {}));
    expect(result.stdout).toContain("true CONFIG");
    expect(result.stdout).toContain("npm install @electric-sql/pglite");
    const cli = await inApp("node_modules/.bin/workflow-store", ["count", "/dag/"], {});
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("npm install @electric-sql/pglite");
  });
});
