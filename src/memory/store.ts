import { StoreFront } from "../core/front.js";
import { MemoryBackend } from "./backend.js";
import type { MemoryStoreOptions } from "./options.js";

/**
 * A {@link Store} in a `Map`, with the same semantics and checks as the PostgreSQL stores: for
 * tests and for engines that need no durability (the Go store's mem store). Values are copied in
 * and out, so callers may reuse their buffers. `pageSize` works as on PostgreSQL (a write shows up
 * in pages not yet fetched); `autoMigrate` has nothing to do here.
 *
 * @example
 * const store = new MemoryStore();
 * await store.set("runs/1", "plan", new Uint8Array([1, 2, 3]));
 */
export class MemoryStore extends StoreFront {
  constructor(options?: MemoryStoreOptions) {
    super(new MemoryBackend(options));
  }
}
