import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { buildChildScripts } from "./child-scripts.js";
import { makePgliteTemplate } from "./pglite-template.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** This run's own database, or null when no PostgreSQL server is available. */
    databaseUrl: string | null;
    /** Why the real-PostgreSQL tests are skipped, when they are. */
    postgresSkipReason: string;
    /** The package as `npm pack` makes it, built from this tree, for tests that install it. */
    tarball: string;
  }
}

/**
 * Builds `dist/` and packs the package once per run, before any test file starts, so that the
 * tests that run the `workflow-store` bin or install the tarball see what users get.
 */
async function buildAndPack(): Promise<{ tarball: string; remove: () => void }> {
  const run = promisify(execFile);
  // Incremental: a run after one that built the same sources rebuilds only what changed. The
  // build info is kept out of dist/ (which is packed), in a folder of this checkout's own, with the
  // time dist/index.js was written; a dist/ that is gone or that something else rebuilt since gets
  // a full build.
  const own = join(tmpdir(), `dws-build-${createHash("sha256").update(process.cwd()).digest("hex").slice(0, 16)}`);
  const buildInfo = join(own, "tsbuildinfo");
  const stamp = join(own, "dist-index-mtime");
  const written = () => (existsSync("dist/index.js") ? String(statSync("dist/index.js").mtimeMs) : "");
  mkdirSync(own, { recursive: true });
  if (written() === "" || !existsSync(stamp) || readFileSync(stamp, "utf8") !== written()) {
    rmSync(buildInfo, { force: true });
  }
  const tsc = join("node_modules", "typescript", "bin", "tsc");
  await run(process.execPath, [tsc, "-p", "tsconfig.build.json", "--incremental", "--tsBuildInfoFile", buildInfo]);
  writeFileSync(stamp, written());
  const folder = mkdtempSync(join(tmpdir(), "dws-pack-"));
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", folder]);
  return { tarball: join(folder, stdout.trim()), remove: () => rmSync(folder, { recursive: true, force: true }) };
}

/** Test databases read text in a collation that is not byte order, so byte-order tests mean something. */
export const TEST_COLLATION_CHECK = "select 'a' < 'B' as not_byte_order";
/** And their sessions run in a time zone far from UTC, so timestamp tests mean something. */
export const TEST_TIME_ZONE = "Asia/Kathmandu";

interface Server {
  adminUrl: string;
  stop: () => Promise<void>;
}

async function findServer(): Promise<Server | string> {
  if (process.env.DATABASE_URL) {
    // Set but unreachable fails the run: createTestDatabase below throws.
    return { adminUrl: process.env.DATABASE_URL, stop: async () => {} };
  }
  const { getContainerRuntimeClient } = await import("testcontainers");
  try {
    await getContainerRuntimeClient();
  } catch (error) {
    return `no DATABASE_URL and no container runtime for testcontainers (${(error as Error).message})`;
  }
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const container = await new PostgreSqlContainer("postgres:16").start();
  return { adminUrl: container.getConnectionUri(), stop: async () => void (await container.stop()) };
}

/** Creates a database of its own (ICU en-US collation, far time zone) and returns its URL and a drop. */
export async function createTestDatabase(adminUrl: string, label: string) {
  const name = `dws_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(
      `create database "${name}" template template0 encoding 'UTF8' locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'`,
    );
    await admin.unsafe(`alter database "${name}" set timezone to '${TEST_TIME_ZONE}'`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

export default async function setup(project: TestProject) {
  const templateFolder = mkdtempSync(join(tmpdir(), "dws-pglite-template-"));
  // The build runs in a child process, the template in this one: side by side on two cores.
  const [pack, template, childScripts] = await Promise.all([
    buildAndPack(),
    makePgliteTemplate(templateFolder),
    buildChildScripts(),
  ]);
  project.provide("tarball", pack.tarball);
  project.provide("pgliteTemplate", template);
  project.provide("childScripts", childScripts);
  const removeFiles = () => {
    pack.remove();
    rmSync(templateFolder, { recursive: true, force: true });
  };
  const server = await findServer();
  if (typeof server === "string") {
    project.provide("databaseUrl", null);
    project.provide("postgresSkipReason", server);
    return removeFiles;
  }
  const database = await createTestDatabase(server.adminUrl, "run").catch((error: Error) => {
    const where = new URL(server.adminUrl);
    where.password = "";
    throw new Error(`DATABASE_URL is set, but no test database could be made at ${where}: ${error.message}`, {
      cause: error,
    });
  });
  project.provide("databaseUrl", database.url);
  project.provide("postgresSkipReason", "");
  return async () => {
    await database.drop();
    await server.stop();
    removeFiles();
  };
}
