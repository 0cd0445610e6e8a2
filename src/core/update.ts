import type { ErrorSite } from "./errors.js";
import { checkUpdated } from "./input.js";
import type { Updater } from "./types.js";

/** A row as `update` reads it: its value (`null` for none) and its revision (`0` when there is no row). */
export interface ReadRow {
  value: Buffer | null;
  revision: number;
}

/** How one backend reads and conditionally writes the row an `update` call is about. */
export interface RowAccess {
  read(): Promise<ReadRow>;
  /**
   * Writes `value` (`null` removes the row) only if the row is still at `revision` (`0`: only if
   * there is none). Resolves with the new revision (`0` when removed), or `undefined` when the row
   * has moved on.
   */
  write(value: Buffer | null, revision: number): Promise<number | undefined>;
}

/**
 * One read, call of `fn` and conditional write: the row as written (its value, and its new revision,
 * `0` when removed), or `undefined` when another write came between the read and the write. `fn`'s
 * own error is thrown as it was; a value it returns that no write would take is `INVALID_ARGUMENT`,
 * and nothing is written.
 */
export async function readModifyWrite(
  site: ErrorSite,
  row: RowAccess,
  fn: Updater,
  maxValueBytes: number,
): Promise<ReadRow | undefined> {
  const { value, revision } = await row.read();
  const next = checkUpdated(site, await fn(value), maxValueBytes);
  // Absent and to stay absent: there is nothing to write.
  if (next === null && revision === 0) return { value: null, revision: 0 };
  const written = await row.write(next, revision);
  return written === undefined ? undefined : { value: next, revision: written };
}
