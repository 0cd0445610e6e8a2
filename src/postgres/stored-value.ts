import { type ErrorSite, StoreError } from "../core/errors.js";

/**
 * The value of a row the store's statements read: they select only rows with a value (a NULL one
 * reads as missing), and send it only when it is within `maxValueBytes`; a larger one is `QUERY`.
 */
export function storedValue(row: { value: Buffer | null; size: number }, site: ErrorSite, maxBytes: number): Buffer {
  if (row.value !== null) return row.value;
  throw new StoreError(
    "QUERY",
    site,
    `the stored value is ${row.size} bytes, more than maxValueBytes (${maxBytes}); create the store with a larger maxValueBytes to read it`,
  );
}
