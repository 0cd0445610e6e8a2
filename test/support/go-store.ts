import postgres from "postgres";

/** The Go store's DDL, as its README gives it. */
export const GO_STORE_DDL = `
CREATE TABLE IF NOT EXISTS workflow_store (
    prefix VARCHAR(255) NOT NULL,
    key VARCHAR(255) NOT NULL,
    value BYTEA,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (prefix, key)
);
CREATE INDEX IF NOT EXISTS idx_workflow_store_prefix ON workflow_store(prefix);`;

/**
 * The Go store, acting through its own statements on a connection of its own, as it
 * sends them: `timeZone` is the session's TimeZone (its driver leaves the server's otherwise).
 */
export function goStore(url: string, timeZone?: string) {
  const client = postgres(url, {
    max: 1,
    onnotice: () => {},
    ...(timeZone && { connection: { TimeZone: timeZone } }),
  });
  return {
    set: (prefix: string, key: string, value: Uint8Array | null) =>
      client.unsafe(
        `INSERT INTO workflow_store (prefix, key, value) VALUES ($1, $2, $3)
         ON CONFLICT (prefix, key) DO UPDATE SET value = $3, updated_at = CURRENT_TIMESTAMP`,
        [prefix, key, value === null ? null : Buffer.from(value)],
      ),
    get: async (prefix: string, key: string) => {
      const [row] = await client.unsafe("SELECT value FROM workflow_store WHERE prefix = $1 AND key = $2", [
        prefix,
        key,
      ]);
      return row === undefined ? undefined : (row.value as Buffer | null);
    },
    list: async (prefix: string) =>
      (await client.unsafe("SELECT key FROM workflow_store WHERE prefix = $1 ORDER BY key", [prefix])).map(
        (row) => row.key as string,
      ),
    remove: (prefix: string, key: string) =>
      client.unsafe("DELETE FROM workflow_store WHERE prefix = $1 AND key = $2", [prefix, key]),
    /** The session's TimeZone, as the server applies it. */
    timeZone: async () => (await client`show timezone`).map((row) => row.TimeZone as string),
    close: () => client.end(),
  };
}
