import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../src/index.js";
import { type OwnServer, ownServerUnavailable, startOwnServer } from "./support/own-server.js";
import { cleanEnv, runProcess } from "./support/processes.js";

const BIN = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const unavailable = ownServerUnavailable();

// A server that takes passwords (scram-sha-256) and has no TLS, as an operator's shell meets one.
describe.skipIf(unavailable !== undefined)(
  `passwords and TLS as libpq finds them, on a server of the test's own${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    let server: OwnServer;
    let home = "";
    beforeAll(async () => {
      server = await startOwnServer({ tls: false });
      home = mkdtempSync(join(tmpdir(), "dws-credentials-"));
    });
    afterAll(async () => {
      await server?.stop();
      if (home !== "") rmSync(home, { recursive: true, force: true });
    });

    const url = (query = "") => `postgres://postgres@127.0.0.1:${server.port}/postgres${query}`;
    /** `workflow-store status` as a process, with nothing of the tests' own environment about passwords. */
    const status = (args: string[], env: Record<string, string> = {}) =>
      runProcess(process.execPath, [BIN, "status", ...args], { env: cleanEnv({ HOME: home, ...env }) });
    const passwordFile = (name: string, lines: string[], mode: number) => {
      const path = join(home, name);
      writeFileSync(path, `${lines.join("\n")}\n`);
      chmodSync(path, mode);
      return path;
    };

    it("without a password anywhere, fails to log in with exit 4, naming the store", async () => {
      const result = await status(["--url", url()]);
      expect(result.code, result.stderr).toBe(4);
      expect(result.stderr).toContain(
        `(no password was sent: none in the connection settings or PGPASSWORD, and no ${join(home, ".pgpass")})`,
      );
      expect(result.stderr).toContain(`using PostgreSQL postgres@127.0.0.1:${server.port}/postgres (from --url)`);
    });

    it("takes PGPASSWORD for a URL or DSN without a password, and the URL's own password over it", async () => {
      const withVariable = await status(["--url", url()], { PGPASSWORD: server.password });
      expect(withVariable.code, withVariable.stderr).toBe(0);
      expect(withVariable.stdout).toContain("pending");
      const dsn = `host=127.0.0.1 port=${server.port} user=postgres dbname=postgres`;
      expect((await status(["--url", dsn], { PGPASSWORD: server.password })).code).toBe(0);
      const inUrl = `postgres://postgres:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/postgres`;
      expect((await status(["--url", inUrl], { PGPASSWORD: "wrong" })).code).toBe(0);
      const fromEnv = await status([], { DATABASE_URL: url(), PGPASSWORD: server.password });
      expect(fromEnv.code, fromEnv.stderr).toBe(0);
    });

    it("takes the password file, ~/.pgpass or PGPASSFILE, only when no one else can read it", async () => {
      const line = `127.0.0.1:${server.port}:postgres:postgres:${server.password.replaceAll(":", "\\:")}`;
      const lines = ["# comments and lines of other servers are skipped", "otherhost:*:*:*:nope", line];
      passwordFile(".pgpass", lines, 0o600);
      const fromHome = await status(["--url", url()]);
      expect(fromHome.code, fromHome.stderr).toBe(0);
      rmSync(join(home, ".pgpass"));

      const wildcards = passwordFile("wild", [`*:${server.port}:*:postgres:${server.password}`], 0o600);
      expect((await status(["--url", url()], { PGPASSFILE: wildcards })).code).toBe(0);

      // libpq ignores a password file others may read, and so does the store.
      const readable = passwordFile("readable", lines, 0o644);
      const ignored = await status(["--url", url()], { PGPASSFILE: readable });
      expect(ignored.code).toBe(4);
      expect(ignored.stderr).toContain(
        `(no password was sent: ${readable} was ignored, as others may read it (chmod 600 it))`,
      );
      const wrong = await status(["--url", url()], { PGPASSWORD: "wrong" });
      expect(wrong.code).toBe(4);
      expect(wrong.stderr).toMatch(/\[28P01\] \(the password came from PGPASSWORD\)$/m);
      expect(`${ignored.stdout}${ignored.stderr}`).not.toContain(server.password);
    });

    it("keeps the Go store's default password for config objects: a partial config sends `postgres`", async () => {
      const target = { host: "127.0.0.1", port: server.port, user: "postgres", database: "postgres" };
      process.env.PGPASSWORD = server.password;
      try {
        // Merged over defaultConfig(), whose password is the Go store's default.
        await expect(createPostgresStore({ ...target, connectTimeoutSeconds: 5 })).rejects.toMatchObject({
          code: "CONNECTION",
        });
        // An empty password is none: PGPASSWORD applies, as libpq has it.
        const store = await createPostgresStore({ ...target, password: "" }, { autoMigrate: false }).catch(
          (error: { code?: string }) => error,
        );
        // The table is missing (autoMigrate: false): the login itself worked.
        expect(store).toMatchObject({ code: "SCHEMA" });
      } finally {
        delete process.env.PGPASSWORD;
      }
    });

    it("names a server that offers no TLS when sslmode asks for it", async () => {
      const result = await status(["--url", url("?sslmode=require")], { PGPASSWORD: server.password });
      expect(result.code).toBe(4);
      expect(result.stderr.split("\n")[0]).toBe(
        `workflow-store: status: the server at 127.0.0.1:${server.port} does not offer TLS, which ` +
          "sslmode=require requires: turn ssl on in its postgresql.conf, or connect with sslmode=disable on a network you trust",
      );
    });
  },
);
