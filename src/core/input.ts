import { asBuffer } from "../postgres/bytea.js";
import { type ErrorSite, StoreError, type StoreOperation } from "./errors.js";
import { DEFAULT_PURGE_BATCH_SIZE, MAX_PAGE_SIZE, MAX_SET_MANY_BYTES } from "./options.js";
import type {
  CompareOptions,
  Consistency,
  KeysOptions,
  LeaseOptions,
  PrefixStatsOptions,
  PurgeOptions,
  ReadOptions,
  WatchOptions,
} from "./types.js";

/** PostgreSQL's `varchar(255)` of the prefix and key columns, counted in characters (code points). */
const MAX_NAME_CHARACTERS = 255;

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

function checkName(what: "prefix" | "key" | "after" | "name", value: unknown, site: ErrorSite): void {
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

/**
 * Checks a prefix as every store call checks it before anything is sent: a string of at most 255
 * characters, without NUL or unpaired surrogates. Throws `INVALID_ARGUMENT` naming `op`. For code
 * that queries the table itself, so that bad input fails as the store's calls fail.
 */
export function checkPrefix(op: StoreOperation, prefix: unknown): asserts prefix is string {
  checkName("prefix", prefix, siteOf(op, prefix));
}

/** Checks a prefix and a key as every store call checks them (see {@link checkPrefix}); throws `INVALID_ARGUMENT`. */
export function checkKey(op: StoreOperation, prefix: unknown, key: unknown): asserts key is string {
  const site = siteOf(op, prefix, key);
  checkName("prefix", prefix, site);
  checkName("key", key, site);
}

/** Checks a value and returns it as a `Buffer` sharing its memory; throws `INVALID_ARGUMENT`. */
export function checkValue(site: ErrorSite, value: unknown, maxValueBytes: number): Buffer {
  if (!(value instanceof Uint8Array)) {
    throw invalid(site, `value must be a Uint8Array or Buffer, got ${value === null ? "null" : typeof value}`);
  }
  if (value.byteLength > maxValueBytes) {
    throw invalid(site, `the value is ${value.byteLength} bytes, more than maxValueBytes (${maxValueBytes})`);
  }
  return asBuffer(value);
}

/** Checks the callback of `update`; throws `INVALID_ARGUMENT`. */
export function checkUpdater(prefix: string, key: string, fn: unknown): void {
  if (typeof fn !== "function") throw invalid({ op: "update", prefix, key }, "fn must be a function");
}

/** Checks what `update`'s callback returned: a value as {@link checkValue} takes it, or `null` to remove the row. */
export function checkUpdated(site: ErrorSite, value: unknown, maxValueBytes: number): Buffer | null {
  if (value === null) return null;
  if (!(value instanceof Uint8Array)) {
    throw invalid(site, `fn must return a Uint8Array, a Buffer or null, got ${typeof value}`);
  }
  return checkValue(site, value, maxValueBytes);
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

/** Checks every key of a batch before any SQL is sent; throws `INVALID_ARGUMENT` naming the first bad one. */
export function checkKeys(op: StoreOperation, prefix: unknown, keys: unknown): readonly string[] {
  checkPrefix(op, prefix);
  if (!Array.isArray(keys)) throw invalid(siteOf(op, prefix), "keys must be an array of strings");
  for (const key of keys) checkName("key", key, siteOf(op, prefix, key));
  return keys;
}

/**
 * Checks the entries of `setMany` (pairs or an object) and splits them into keys and values.
 * A key given twice is an error: which of its values should win would be a guess.
 */
export function checkEntries(
  prefix: unknown,
  entries: unknown,
  maxValueBytes: number,
): { keys: string[]; values: Buffer[] } {
  const op = "setMany";
  checkPrefix(op, prefix);
  if (typeof entries !== "object" || entries === null) {
    throw invalid(siteOf(op, prefix), "entries must be [key, value] pairs or an object of values");
  }
  const pairs: Iterable<unknown> =
    Symbol.iterator in entries ? (entries as Iterable<unknown>) : Object.entries(entries);
  const keys: string[] = [];
  const values: Buffer[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw invalid(siteOf(op, prefix), "each entry must be a [key, value] pair");
    const [key, value] = pair as [unknown, unknown];
    const site = siteOf(op, prefix, key);
    checkName("key", key, site);
    if (seen.has(key as string)) throw invalid(site, "the key appears twice in one batch");
    seen.add(key as string);
    const bytes = checkValue(site, value, maxValueBytes);
    total += bytes.length;
    if (total > MAX_SET_MANY_BYTES) {
      throw invalid(
        siteOf(op, prefix),
        `the values come to more than ${MAX_SET_MANY_BYTES} bytes, the most one setMany writes: split it, in a transaction to keep it all-or-nothing`,
      );
    }
    values.push(bytes);
    keys.push(key as string);
  }
  return { keys, values };
}

function wholeNumber(site: ErrorSite, name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(site, `${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Where a key listing starts, how far it goes and its page size, checked. */
export interface KeyRange {
  after: string | undefined;
  limit: number;
  pageSize: number;
}

/** The `consistency` of a read's options, checked; `primary` when it has none. */
export function checkConsistency(op: StoreOperation, prefix: unknown, options: unknown): Consistency {
  const site = siteOf(op, prefix);
  if (options === undefined) return "primary";
  if (typeof options !== "object" || options === null) throw invalid(site, "options must be an object");
  const { consistency = "primary" } = options as ReadOptions;
  if (consistency !== "primary" && consistency !== "replica") {
    throw invalid(site, 'consistency must be "primary" or "replica"');
  }
  return consistency;
}

/** Checks the options of `keys` and `entries`, over the store's page size. */
export function checkKeysOptions(op: StoreOperation, prefix: unknown, options: unknown, pageSize: number): KeyRange {
  checkPrefix(op, prefix);
  const site = siteOf(op, prefix);
  checkConsistency(op, prefix, options);
  if (options === undefined) return { after: undefined, limit: Number.POSITIVE_INFINITY, pageSize };
  const { after, limit, pageSize: size } = options as KeysOptions;
  if (after !== undefined) checkName("after", after, site);
  return {
    after,
    limit: wholeNumber(site, "limit", limit, 0, Number.MAX_SAFE_INTEGER) ?? Number.POSITIVE_INFINITY,
    pageSize: wholeNumber(site, "pageSize", size, 1, MAX_PAGE_SIZE) ?? pageSize,
  };
}

/** Checks the options of `purge` and fills in the batch size. */
export function checkPurgeOptions(
  options: unknown,
): Required<Omit<PurgeOptions, "prefix" | "onProgress">> & Pick<PurgeOptions, "prefix" | "onProgress"> {
  const site: ErrorSite = { op: "purge" };
  if (typeof options !== "object" || options === null) throw invalid(site, "options must be an object with olderThan");
  const { olderThan, prefix, batchSize, onProgress, dryRun } = options as PurgeOptions;
  if (!(olderThan instanceof Date) || Number.isNaN(olderThan.getTime())) {
    throw invalid(site, "olderThan must be a valid Date");
  }
  if (prefix !== undefined) checkPrefix("purge", prefix);
  if (onProgress !== undefined && typeof onProgress !== "function")
    throw invalid(site, "onProgress must be a function");
  if (dryRun !== undefined && typeof dryRun !== "boolean") throw invalid(site, "dryRun must be a boolean");
  return {
    ...(onProgress !== undefined && { onProgress }),
    olderThan,
    ...(prefix !== undefined && { prefix }),
    batchSize: wholeNumber(site, "batchSize", batchSize, 1, MAX_PAGE_SIZE) ?? DEFAULT_PURGE_BATCH_SIZE,
    dryRun: dryRun === true,
  };
}

/** How many prefixes {@link Store.prefixStats} returns unless told. */
const DEFAULT_PREFIX_STATS = 20;

/**
 * Checks the options of `prefixStats`; returns how many prefixes to return, and where to read
 * them. Throws `INVALID_ARGUMENT`.
 */
export function checkPrefixStatsOptions(options: unknown): { limit: number; consistency: Consistency } {
  const site: ErrorSite = { op: "prefixStats" };
  const consistency = checkConsistency("prefixStats", undefined, options);
  if (options === undefined) return { limit: DEFAULT_PREFIX_STATS, consistency };
  const limit = wholeNumber(site, "limit", (options as PrefixStatsOptions).limit, 1, MAX_PAGE_SIZE);
  return { limit: limit ?? DEFAULT_PREFIX_STATS, consistency };
}

/** Checks the callback of `transaction`; throws `INVALID_ARGUMENT`. */
export function checkWork(work: unknown): void {
  if (typeof work !== "function") throw invalid({ op: "transaction" }, "work must be a function");
}

/** The longest lease a caller may ask for: a day. */
const MAX_LEASE_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Checks the expected revision of `setIf` (where 0 means "only if absent") or `removeIf` (which
 * needs a row's revision); throws `INVALID_ARGUMENT`.
 */
export function checkExpectedRevision(site: ErrorSite, options: unknown): number {
  if (typeof options !== "object" || options === null) throw invalid(site, "options must be an object with revision");
  const { revision } = options as CompareOptions;
  const min = site.op === "setIf" ? 0 : 1;
  const checked = wholeNumber(site, "revision", revision, min, Number.MAX_SAFE_INTEGER);
  if (checked === undefined)
    throw invalid(site, `revision must be a whole number from ${min} to ${Number.MAX_SAFE_INTEGER}`);
  return checked;
}

/** Checks the options of `watch`; throws `INVALID_ARGUMENT`. */
export function checkWatchOptions(prefix: unknown, options: unknown): WatchOptions {
  checkPrefix("watch", prefix);
  const site = siteOf("watch", prefix);
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null) throw invalid(site, "options must be an object");
  const { fromRevision, signal } = options as WatchOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid(site, "signal must be an AbortSignal");
  const from = wholeNumber(site, "fromRevision", fromRevision, 0, Number.MAX_SAFE_INTEGER);
  return { ...(from !== undefined && { fromRevision: from }), ...(signal !== undefined && { signal }) };
}

/** Checks a lease's name and options; returns the time to live. Throws `INVALID_ARGUMENT`. */
export function checkLease(name: unknown, options: unknown): number {
  const site: ErrorSite = { op: "acquireLease", key: typeof name === "string" ? name : undefined };
  checkName("name", name, site);
  if (typeof options !== "object" || options === null) throw invalid(site, "options must be an object with ttlMs");
  const ttlMs = wholeNumber(site, "ttlMs", (options as LeaseOptions).ttlMs, 1, MAX_LEASE_TTL_MS);
  if (ttlMs === undefined) throw invalid(site, `ttlMs must be a whole number from 1 to ${MAX_LEASE_TTL_MS}`);
  return ttlMs;
}
