import { sql } from "drizzle-orm";
import { defaultPoolSettings, describeServers, type PostgresConfig } from "../config/config.js";
import { describePasswordSource } from "../config/pgpass.js";
import { serverOffersTls } from "../config/tls.js";
import { StoreError } from "../core/errors.js";
import { isPasswordRefused, translateError } from "../postgres/translate.js";
import type { Connection } from "./contract.js";

/**
 * Checks that a pool the package opened reaches a server, within `connectTimeoutSeconds` in all:
 * postgres.js bounds each attempt, not the whole, and a port that answers with something other
 * than PostgreSQL (an HTTP proxy, say) makes it try again without end. On failure, ends the pools
 * and says why, as clearly as the server lets it: no TLS where the config requires it, or where a
 * refused password came from.
 */
export async function checkAnswers(
  db: Connection["db"],
  resolved: PostgresConfig,
  end: (graceSeconds: number) => Promise<void>,
): Promise<void> {
  const seconds = { ...defaultPoolSettings, ...resolved }.connectTimeoutSeconds;
  const target = resolved.targetSessionAttrs ?? "any";
  const as = target === "any" ? "" : ` as ${target}`;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StoreError(
            "CONNECTION",
            { op: "connect" },
            `no PostgreSQL ${resolved.hosts === undefined ? "answered at" : "of"} ${describeServers(resolved)}` +
              `${resolved.hosts === undefined ? "" : " answered"}${as} within ${seconds} s`,
          ),
        ),
      seconds * 1000,
    );
  });
  try {
    await Promise.race([db.execute(sql`select 1`), deadline]);
  } catch (error) {
    await end(0);
    const failure = translateError(error, { op: "connect" });
    if (resolved.sslMode !== "disable" && (await serverOffersTls(resolved.host, resolved.port, 2000)) === false) {
      throw new StoreError(
        "CONNECTION",
        { op: "connect" },
        `the server at ${resolved.host}:${resolved.port} does not offer TLS, which sslmode=${resolved.sslMode} ` +
          "requires: turn ssl on in its postgresql.conf, or connect with sslmode=disable on a network you trust",
        { cause: failure.cause },
      );
    }
    if (!isPasswordRefused(error)) throw failure;
    // Say where the password came from, or why there was none: the server's answer does not.
    const source = describePasswordSource(resolved.password, resolved);
    throw new StoreError("CONNECTION", { op: "connect" }, `${failure.detail} (${source})`, { cause: failure.cause });
  } finally {
    clearTimeout(timer);
  }
}
