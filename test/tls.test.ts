import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNodePostgres, createPostgresStore, type PostgresConfig, type StoreError } from "../src/index.js";
import { expectStoreError } from "../src/testing/index.js";
import { type OwnServer, ownServerUnavailable, startOwnServer } from "./support/own-server.js";
import { freePort } from "./support/ports.js";
import { runProcess } from "./support/processes.js";

const unavailable = ownServerUnavailable();

describe.skipIf(unavailable !== undefined)(
  `TLS and logins on a server that requires TLS${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    let server: OwnServer;
    beforeAll(async () => {
      server = await startOwnServer();
    });
    afterAll(() => server?.stop());

    const config = (change: Partial<PostgresConfig>): Partial<PostgresConfig> => ({
      host: "localhost",
      port: server.port,
      user: "postgres",
      password: server.password,
      database: "postgres",
      connectTimeoutSeconds: 5,
      ...change,
    });

    const connects = async (change: Partial<PostgresConfig>) => {
      const store = await createPostgresStore(config(change));
      try {
        await store.set("tls", "k", Buffer.from([1, 2, 3]));
        expect(await store.get("tls", "k")).toEqual(Buffer.from([1, 2, 3]));
      } finally {
        await store.close();
      }
    };

    const fails = async (change: Partial<PostgresConfig>) => {
      const error: StoreError = await createPostgresStore(config(change)).then(
        () => {
          throw new Error("expected the connection to fail");
        },
        (e: StoreError) => e,
      );
      expect(error.code).toBe("CONNECTION");
      expect(error.op).toBe("connect");
      expect(inspect(error, { depth: 10 })).not.toContain(server.password);
      return error;
    };

    it("disable: a plain connection is turned away", async () => {
      await fails({ sslMode: "disable" });
    });

    it("require: TLS without checking the certificate", async () => {
      await connects({ sslMode: "require" });
    });

    it("verify-ca: the chain is checked, the host name is not", async () => {
      await connects({ sslMode: "verify-ca", sslRootCert: server.caFile, host: "127.0.0.1" });
      await fails({ sslMode: "verify-ca", sslRootCert: server.otherCaFile });
      await fails({ sslMode: "verify-ca" });
    });

    it("verify-full: the chain and the host name are checked", async () => {
      await connects({ sslMode: "verify-full", sslRootCert: server.caFile, host: "localhost" });
      await fails({ sslMode: "verify-full", sslRootCert: server.caFile, host: "127.0.0.1" });
      await fails({ sslMode: "verify-full", sslRootCert: server.otherCaFile });
    });

    it("checks an address against the certificate's addresses, with no warning from Node (DEP0123)", async () => {
      const url =
        `postgres://postgres:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/postgres` +
        `?sslmode=verify-full&sslrootcert=${encodeURIComponent(server.caFile)}`;
      const bin = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
      const result = await runProcess(process.execPath, [bin, "status", "--url", url]);
      // The certificate names localhost only.
      expect(result.code).toBe(4);
      expect(result.stderr.split("\n")[0]).toMatch(
        /^workflow-store: status: .*IP: 127\.0\.0\.1 is not in the cert's list/,
      );
      expect(result.stderr).not.toMatch(/Warning|DEP0123/);
      expect(result.stderr).not.toContain(server.password);
    });

    it("verify-full with several servers checks each by its own name, on both drivers", async () => {
      const dead = await freePort();
      const listed = (host: string): Partial<PostgresConfig> => ({
        hosts: [
          { host: "localhost", port: dead },
          { host, port: server.port },
        ],
        sslMode: "verify-full",
        sslRootCert: server.caFile,
        targetSessionAttrs: "read-write",
      });
      await connects(listed("localhost"));
      // The certificate names localhost only.
      expect((await fails(listed("127.0.0.1"))).message).toMatch(/127\.0\.0\.1/);
      const connection = await connectNodePostgres(config(listed("localhost")));
      await connection.close();
      await expectStoreError(connectNodePostgres(config(listed("127.0.0.1"))), "CONNECTION");
    });

    it("takes the TLS settings from a DSN too", async () => {
      const dsn = `host=localhost port=${server.port} user=postgres password='${server.password}' dbname=postgres sslmode=verify-full sslrootcert='${server.caFile}'`;
      const store = await createPostgresStore(dsn);
      await store.close();
    });

    it("reports a wrong password as CONNECTION, without the password", async () => {
      const error = await fails({ sslMode: "require", password: "wrong-Password-123" });
      expect(inspect(error, { depth: 10 })).not.toContain("wrong-Password-123");
      expect((error.cause as { code?: string }).code).toBe("28P01");
    });
  },
);
