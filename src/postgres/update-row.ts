import type { KeySite } from "../core/backend.js";
import type { Updater } from "../core/types.js";
import { type ReadRow, type RowAccess, readModifyWrite } from "../core/update.js";
import type { Calls } from "./calls.js";
import type { PreparedQueries } from "./statements/prepare.js";
import { storedValue } from "./stored-value.js";

/** The row of an `update` call, read (`for update` when `locked`) and written with the store's compare-and-set statements. */
export function updatedRow(
  q: PreparedQueries,
  calls: Calls,
  site: KeySite,
  locked: boolean,
  maxBytes: number,
): RowAccess {
  const { prefix, key } = site;
  return {
    read: async () => {
      const read = locked ? q.updateReadLocked : q.updateRead;
      const [row] = await calls.run(site, () => read.execute({ prefix, key, maxBytes }));
      if (row === undefined) return { value: null, revision: 0 };
      // A row without a value reads as missing, as `get` reads it.
      const value = row.value === null && row.size === null ? null : storedValue(row, site, maxBytes);
      return { value, revision: row.revision };
    },
    write: async (value, revision) => {
      const [row] = await calls.run(site, () =>
        value === null
          ? q.removeIf.execute({ prefix, key, revision })
          : revision === 0
            ? q.insertIfAbsent.execute({ prefix, key, value })
            : locked
              ? q.updateLockedRow.execute({ prefix, key, value })
              : q.updateAtRevision.execute({ prefix, key, value, revision }),
      );
      if (row?.revision == null) return undefined;
      return value === null ? 0 : row.revision;
    },
  };
}

/**
 * `update` with the row locked from the read to the write, in a transaction. Only a row that did
 * not exist can still move (another transaction inserted it); then it is read again, locked this time.
 */
export async function updateLocked(
  q: PreparedQueries,
  calls: Calls,
  site: KeySite,
  fn: Updater,
  maxBytes: number,
): Promise<ReadRow> {
  for (;;) {
    const written = await readModifyWrite(site, updatedRow(q, calls, site, true, maxBytes), fn, maxBytes);
    if (written !== undefined) return written;
  }
}
