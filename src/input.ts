import { asBuffer } from "./bytea.js";
import { type ErrorSite, StoreError, type StoreOperation } from "./errors.js";

/** PostgreSQL's `varchar(255)` of the prefix and key columns, counted in characters (code points). */
export const MAX_NAME_CHARACTERS = 255;

function codePointCount(value: string): number {
  let count = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    // A well-formed string's high surrogate is always followed by its low one.
    if (unit >= 0xd800 && unit <= 0xdbff) i++;
    count++;
  }
  return count;
}

function invalid(site: ErrorSite, detail: string): StoreError {
  return new StoreError("INVALID_ARGUMENT", site, detail);
}

function siteOf(op: StoreOperation, prefix: unknown, key?: unknown): ErrorSite {
  return {
    op,
    prefix: typeof prefix === "string" ? prefix : undefined,
    key: typeof key === "string" ? key : undefined,
  };
}

function checkName(what: "prefix" | "key", value: unknown, site: ErrorSite): void {
  if (typeof value !== "string") {
    throw invalid(site, `${what} must be a string, got ${value === null ? "null" : typeof value}`);
  }
  if (value.includes("\0")) {
    throw invalid(site, `${what} contains a NUL character, which PostgreSQL text cannot hold`);
  }
  if (!value.isWellFormed()) {
    throw invalid(site, `${what} contains an unpaired UTF-16 surrogate, which would not read back the same`);
  }
  const characters = codePointCount(value);
  if (characters > MAX_NAME_CHARACTERS) {
    throw invalid(site, `${what} is ${characters} characters long; at most ${MAX_NAME_CHARACTERS} fit`);
  }
}

/** Checks a prefix before any SQL is sent; throws `INVALID_ARGUMENT`. */
export function checkPrefix(op: StoreOperation, prefix: unknown): asserts prefix is string {
  checkName("prefix", prefix, siteOf(op, prefix));
}

/** Checks a prefix and a key before any SQL is sent; throws `INVALID_ARGUMENT`. */
export function checkKey(op: StoreOperation, prefix: unknown, key: unknown): asserts key is string {
  const site = siteOf(op, prefix, key);
  checkName("prefix", prefix, site);
  checkName("key", key, site);
}

/** Checks a value and returns it as a `Buffer` sharing its memory; throws `INVALID_ARGUMENT`. */
export function checkValue(site: ErrorSite, value: unknown): Buffer {
  if (!(value instanceof Uint8Array)) {
    throw invalid(site, `value must be a Uint8Array or Buffer, got ${value === null ? "null" : typeof value}`);
  }
  return asBuffer(value);
}

/** Checks the callback of `list`; throws `INVALID_ARGUMENT`. */
export function checkIterator(prefix: string, iterator: unknown): void {
  if (typeof iterator !== "function") {
    throw invalid({ op: "list", prefix }, "iterator must be a function");
  }
}

/** Throws `CLOSED` for a call on a closed store. */
export function checkOpen(closed: boolean, op: StoreOperation, prefix?: unknown, key?: unknown): void {
  if (closed) throw new StoreError("CLOSED", siteOf(op, prefix, key), "the store is closed");
}
