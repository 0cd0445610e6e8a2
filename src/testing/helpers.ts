import { expect } from "vitest";
import { type Store, StoreError } from "../index.js";

/**
 * A prefix no other test uses, so that tests can share one store (and one database) without
 * seeing each other's rows.
 *
 * @example
 * const prefix = freshPrefix("runs"); // "/runs/3f0c…"
 */
export function freshPrefix(label = "t"): string {
  return `/${label}/${crypto.randomUUID()}`;
}

/** Every key of `prefix`, in the order {@link Store.list} calls its iterator with them. */
export async function listAll(store: Store, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  await store.list(prefix, (key) => {
    keys.push(key);
  });
  return keys;
}

/**
 * Everything an async iterable yields, as an array.
 *
 * @example
 * expect(await collect(store.keys(prefix))).toEqual(["a", "b"]);
 */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/**
 * Expects `promise` to reject with a {@link StoreError} of this `code`, and returns the error for
 * further checks.
 *
 * @example
 * const error = await expectStoreError(store.get(42 as never, "k"), "INVALID_ARGUMENT");
 * expect(error.op).toBe("get");
 */
export async function expectStoreError(promise: Promise<unknown>, code: StoreError["code"]): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreError);
  expect((error as StoreError).code).toBe(code);
  return error as StoreError;
}
