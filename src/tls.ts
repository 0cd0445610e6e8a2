import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import type { PostgresConfig } from "./config.js";
import { StoreError } from "./errors.js";

function readPem(field: "sslRootCert" | "sslCert" | "sslKey", path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new StoreError("CONFIG", { op: "config" }, `cannot read ${field} file ${JSON.stringify(path)}`, {
      cause: error,
    });
  }
}

/** libpq's sslmode as Node TLS options. */
export function tlsOptions(config: PostgresConfig): false | ConnectionOptions {
  if (config.sslMode === "disable") return false;
  const ca = readPem("sslRootCert", config.sslRootCert);
  const cert = readPem("sslCert", config.sslCert);
  const key = readPem("sslKey", config.sslKey);
  const files = { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
  switch (config.sslMode) {
    case "require":
      return { ...files, rejectUnauthorized: false };
    case "verify-ca":
      // The chain is checked; the name in the certificate is not.
      return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full":
      return { ...files, rejectUnauthorized: true, servername: config.host };
  }
}
