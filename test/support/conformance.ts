import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type Store, StoreError } from "../../src/index.js";
import type { Backend } from "./backends.js";
import { coreCases } from "./core-cases.js";
import { engineCases } from "./engine-cases.js";

/** A prefix no other test uses, so tests share a store without seeing each other's rows. */
export function freshPrefix(label = "t"): string {
  return `/${label}/${randomUUID()}`;
}

export async function listAll(store: Store, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  await store.list(prefix, (key) => {
    keys.push(key);
  });
  return keys;
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

export async function expectStoreError(promise: Promise<unknown>, code: StoreError["code"]): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreError);
  expect((error as StoreError).code).toBe(code);
  return error as StoreError;
}

/** What a group of cases gets: the backend, and the store the suite opened on it. */
export interface CaseContext {
  backend: Backend;
  store: () => Store;
}

/**
 * The one suite every backend passes: the original store's cases, the semantics the README
 * promises, input checks, streaming, batches, transactions and purge, and where the backend has a
 * database, the rows behind the API. One store per backend is shared; each test uses its own prefix.
 */
export function storeConformance(backend: Backend): void {
  const title = `${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`;
  describe.skipIf(backend.skip !== undefined)(title, () => {
    let store: Store | undefined;
    beforeAll(async () => {
      store = await backend.create();
    });
    afterAll(() => backend.dispose());

    const context: CaseContext = {
      backend,
      store: () => {
        if (store === undefined) throw new Error("the suite's store is not open");
        return store;
      },
    };
    coreCases(context);
    engineCases(context);
  });
}
