import { chmodSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "../../core/errors.js";
import { LOCK_FILE } from "./data-dir-lock.js";

/**
 * What an embedded data directory holds before PGlite opens it: the PostgreSQL major that made it
 * (its `PG_VERSION`), or `undefined` for a new or empty directory. A directory that holds other
 * files is refused: PGlite would set up a cluster among them. The directory is made private
 * (0700), as PostgreSQL keeps its own: PGlite writes its files readable and writable by everyone.
 */
export function inspectDataDir(directory: string): string | undefined {
  let version: string | undefined;
  try {
    version = readFileSync(join(directory, "PG_VERSION"), "utf8").trim();
  } catch (error) {
    // Only a missing file means a directory PGlite has not made; one that cannot be read is the error.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new StoreError(
        "CONFIG",
        { op: "connect" },
        `${directory}/PG_VERSION cannot be read: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const others = readdirSync(directory).filter((name) => !name.startsWith(LOCK_FILE));
    if (others.length > 0) {
      throw new StoreError(
        "CONFIG",
        { op: "connect" },
        `${directory} is not an embedded store's data directory (it has no PG_VERSION) and is not empty ` +
          `(${others.slice(0, 3).join(", ")}${others.length > 3 ? ", …" : ""}): give a new or empty directory`,
      );
    }
  }
  try {
    chmodSync(directory, 0o700);
  } catch {
    // Not ours to change (another owner, a filesystem without modes): left as it is.
  }
  return version;
}

/**
 * The error for a data directory PGlite could not open because another PostgreSQL major made it:
 * each PGlite minor line runs one major (0.5 runs PostgreSQL 18, 0.6 runs 19), and PostgreSQL
 * cannot read an older major's files. `undefined` when the majors agree, so the cause is another.
 */
export function majorMismatch(directory: string, made: string, running: string): StoreError | undefined {
  if (made === running) return undefined;
  return new StoreError(
    "CONNECTION",
    { op: "connect" },
    `the embedded data directory ${directory} holds PostgreSQL ${made} data, and the installed ` +
      `@electric-sql/pglite runs PostgreSQL ${running}, which cannot open it: install the PGlite line that ` +
      "made it (PostgreSQL 18: npm install @electric-sql/pglite@0.5)",
  );
}
