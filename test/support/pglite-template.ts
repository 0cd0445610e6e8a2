import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** A PGlite database as PGlite creates it, made once per run: see {@link makePgliteTemplate}. */
    pgliteTemplate: { dataDir: string; dump: string };
  }
}

/**
 * Creates, in `folder`, a PGlite database as `PGlite.create` leaves a new one (nothing of the store
 * in it): as a data directory, and as the dump `loadDataDir` takes. PGlite takes seconds to create
 * a database (its initdb), a copy of one milliseconds, so tests whose subject is not creating a
 * database start from these.
 */
export async function makePgliteTemplate(folder: string): Promise<{ dataDir: string; dump: string }> {
  const dataDir = join(folder, "data");
  const dump = join(folder, "dump.tar");
  mkdirSync(folder, { recursive: true });
  const client = await PGlite.create(dataDir);
  try {
    const tar = await client.dumpDataDir("none");
    writeFileSync(dump, Buffer.from(await tar.arrayBuffer()));
  } finally {
    await client.close();
  }
  return { dataDir, dump };
}

/** Makes `dataDir` a copy of the run's new PGlite database, as `PGlite.create` would have made it. */
export function copyNewDataDir(dataDir: string): string {
  cpSync(inject("pgliteTemplate").dataDir, dataDir, { recursive: true });
  return dataDir;
}

/** A new PGlite database in memory, loaded from the run's template instead of made by initdb. */
export function newPgliteInMemory(options: Omit<PGliteOptions, "dataDir" | "loadDataDir"> = {}): Promise<PGlite> {
  const dump = new Blob([readFileSync(inject("pgliteTemplate").dump)]);
  return PGlite.create({ ...options, loadDataDir: dump });
}
