import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { LOCK_FILE } from "../src/drivers/pglite/data-dir-lock.js";
import { connectEmbedded, createEmbeddedStore, StoreError } from "../src/index.js";
import { copyNewDataDir } from "./support/pglite-template.js";
import { PGLITE_NODE_FLAGS } from "./support/processes.js";

const run = promisify(execFile);
// The package as the run built it: the writer is a plain node process, as an app's would be.
const builtEntry = fileURLToPath(new URL("../dist/index.js", import.meta.url));

describe("createEmbeddedStore with a dataDir", () => {
  const dir = mkdtempSync(join(tmpdir(), "dws-embedded-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps what one process wrote for the next process", async () => {
    const dataDir = copyNewDataDir(join(dir, "data"));
    const writer = join(dir, "writer.mjs");
    writeFileSync(
      writer,
      `import { createEmbeddedStore } from ${JSON.stringify(builtEntry)};
       const store = await createEmbeddedStore({ dataDir: ${JSON.stringify(dataDir)} });
       await store.set("/runs/1", "plan", Buffer.from([0, 1, 2, 255]));
       await store.set("/runs/1", "context", Buffer.from("ctx"));
       await store.close();`,
    );
    await run(process.execPath, [...PGLITE_NODE_FLAGS, writer]);

    const store = await createEmbeddedStore({ dataDir });
    try {
      expect(await store.get("/runs/1", "plan")).toEqual(Buffer.from([0, 1, 2, 255]));
      const keys: string[] = [];
      await store.list("/runs/1", (key) => void keys.push(key));
      expect(keys).toEqual(["context", "plan"]);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe("what an embedded data directory may be", () => {
  const dir = mkdtempSync(join(tmpdir(), "dws-embedded-dir-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is created private (0700), as PostgreSQL keeps its own, with parents that do not exist yet", async () => {
    const dataDir = join(dir, "nested", "new");
    const store = await createEmbeddedStore({ dataDir });
    await store.set("/p", "k", Buffer.from("v"));
    await store.close();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const again = await createEmbeddedStore({ dataDir });
    try {
      expect(await again.get("/p", "k")).toEqual(Buffer.from("v"));
    } finally {
      await again.close();
    }
  }, 60_000);

  it("refuses a folder of other files, and leaves it as it was", async () => {
    const folder = join(dir, "project");
    mkdirSync(folder, { mode: 0o755 });
    writeFileSync(join(folder, "notes.txt"), "mine");
    await expect(createEmbeddedStore({ dataDir: folder })).rejects.toMatchObject({
      code: "CONFIG",
      message: expect.stringContaining(
        `${folder} is not an embedded store's data directory (it has no PG_VERSION) and is not empty (notes.txt)`,
      ),
    });
    expect(readdirSync(folder)).toEqual(["notes.txt"]);
    expect(statSync(folder).mode & 0o777).toBe(0o755);
  });

  it("says which PostgreSQL made a directory the installed PGlite cannot open, and leaves it intact", async () => {
    const dataDir = copyNewDataDir(join(dir, "other-major"));
    const running = readFileSync(join(dataDir, "PG_VERSION"), "utf8").trim();
    // What a directory of another PGlite line looks like to this one: PostgreSQL refuses it.
    const other = String(Number(running) - 1);
    writeFileSync(join(dataDir, "PG_VERSION"), `${other}\n`);
    await expect(createEmbeddedStore({ dataDir })).rejects.toMatchObject({
      code: "CONNECTION",
      message: expect.stringContaining(
        `${dataDir} holds PostgreSQL ${other} data, and the installed @electric-sql/pglite runs PostgreSQL ${running}, which cannot open it`,
      ),
    });
    writeFileSync(join(dataDir, "PG_VERSION"), `${running}\n`);
    await (await createEmbeddedStore({ dataDir })).close();
  }, 60_000);
});

describe("the lock on an embedded data directory, within one process", () => {
  const dir = mkdtempSync(join(tmpdir(), "dws-embedded-lock-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const heldHere = (dataDir: string) =>
    expect.objectContaining({
      name: "StoreError",
      code: "CONNECTION",
      op: "connect",
      message:
        `workflow store connect: the embedded data directory ${resolve(dataDir)} is open in this process; ` +
        "one store at a time may open it: close the other store first",
    });

  it("refuses a second open of a directory this process has open, until the first closes", async () => {
    const dataDir = copyNewDataDir(join(dir, "twice"));
    const first = await createEmbeddedStore({ dataDir });
    try {
      await expect(createEmbeddedStore({ dataDir })).rejects.toThrow(StoreError);
      await expect(createEmbeddedStore({ dataDir })).rejects.toEqual(heldHere(dataDir));
      await expect(connectEmbedded({ dataDir: `file://${dataDir}` })).rejects.toEqual(heldHere(dataDir));
      // The refused opens left the first store working.
      await first.set("/p", "k", Buffer.from("v"));
      expect(await first.get("/p", "k")).toEqual(Buffer.from("v"));
    } finally {
      await first.close();
    }
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

    const again = await createEmbeddedStore({ dataDir });
    try {
      expect(await again.get("/p", "k")).toEqual(Buffer.from("v"));
    } finally {
      await again.close();
    }
  }, 60_000);

  it("lets exactly one of two simultaneous opens in", async () => {
    const dataDir = copyNewDataDir(join(dir, "simultaneous"));
    const outcomes = await Promise.allSettled([createEmbeddedStore({ dataDir }), createEmbeddedStore({ dataDir })]);
    const opened = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    const refused = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason] : []));
    await Promise.all(opened.map((store) => store.close()));
    expect(opened).toHaveLength(1);
    expect(refused).toEqual([heldHere(dataDir)]);
  }, 60_000);

  it("releases the directory when opening fails after taking it", async () => {
    const dataDir = copyNewDataDir(join(dir, "failed"));
    // No table and no autoMigrate: PGlite opens, then the store refuses.
    await expect(createEmbeddedStore({ dataDir, autoMigrate: false })).rejects.toMatchObject({ code: "SCHEMA" });
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

    const store = await createEmbeddedStore({ dataDir });
    await store.close();
  }, 60_000);

  it("takes no lock for a database in memory", async () => {
    const stores = await Promise.all([createEmbeddedStore(), createEmbeddedStore({ dataDir: "memory://" })]);
    try {
      await stores[0]?.set("/p", "k", Buffer.from("one"));
      expect(await stores[1]?.get("/p", "k")).toBeNull();
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  }, 60_000);
});
