import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createEmbeddedStore } from "../src/index.js";

const run = promisify(execFile);
const entry = fileURLToPath(new URL("../src/index.ts", import.meta.url));

describe("createEmbeddedStore with a dataDir", () => {
  const dir = mkdtempSync(join(tmpdir(), "dws-embedded-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps what one process wrote for the next process", async () => {
    const dataDir = join(dir, "data");
    const writer = join(dir, "writer.mts");
    writeFileSync(
      writer,
      `import { createEmbeddedStore } from ${JSON.stringify(entry)};
       const store = await createEmbeddedStore({ dataDir: ${JSON.stringify(dataDir)} });
       await store.set("/runs/1", "plan", Buffer.from([0, 1, 2, 255]));
       await store.set("/runs/1", "context", Buffer.from("ctx"));
       await store.close();`,
    );
    await run(process.execPath, ["--import", "tsx", writer]);

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
