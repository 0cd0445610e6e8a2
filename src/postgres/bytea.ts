import { customType } from "drizzle-orm/pg-core";

/**
 * Turns whatever a driver hands back for a `bytea` into a `Buffer`, without copying where it can.
 *
 * postgres.js and node-postgres give a `Buffer`, PGlite a `Uint8Array`, and paths that go through
 * JSON (relational queries, `json_agg`) the text form `\x0102…`.
 */
function byteaToBuffer(value: Uint8Array | string): Buffer {
  if (typeof value === "string") {
    if (!value.startsWith("\\x")) {
      throw new TypeError("bytea text must be in hex format (\\x…)");
    }
    return Buffer.from(value.slice(2), "hex");
  }
  return asBuffer(value);
}

/** The same bytes as a `Buffer`, sharing their memory. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A PostgreSQL `bytea` column whose values are `Buffer`s on every driver.
 *
 * @example
 * const blobs = pgTable("blobs", { id: text("id").primaryKey(), data: bytea("data") });
 */
export const bytea = customType<{ data: Buffer; driverData: Uint8Array | string }>({
  dataType() {
    return "bytea";
  },
  fromDriver: byteaToBuffer,
});
