import { readFileSync } from "node:fs";
import { connect, isIP } from "node:net";
import { type ConnectionOptions, checkServerIdentity } from "node:tls";
import { StoreError } from "../core/errors.js";
import type { PostgresConfig } from "./config.js";

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
      // With several servers, the driver names each as it connects to it (postgres.js sends the
      // host for SNI, and Node checks the certificate against the host the socket reached).
      if (config.hosts !== undefined) return { ...files, rejectUnauthorized: true };
      // A server name is sent for SNI, which takes host names only: Node warns (DEP0123) when it is
      // an address. An address is checked against the certificate's IP addresses instead.
      return isIP(config.host) === 0
        ? { ...files, rejectUnauthorized: true, servername: config.host }
        : {
            ...files,
            rejectUnauthorized: true,
            checkServerIdentity: (_, cert) => checkServerIdentity(config.host, cert),
          };
  }
}

/** PostgreSQL's SSLRequest: a length of 8 and the code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

/**
 * Whether the server at `host:port` offers TLS: it answers an SSLRequest with `S`, or `N` when it
 * has none. `undefined` when it cannot be told (no answer within `timeoutMs`, a closed port). Asked
 * after a TLS connection failed, so that the error can say why, which postgres.js 3 does not
 * (it reports the reset of a TLS handshake the server never started).
 */
export function serverOffersTls(host: string, port: number, timeoutMs: number): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean | undefined) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once("error", () => done(undefined));
    socket.once("connect", () => socket.write(SSL_REQUEST));
    socket.once("data", (data) => done(data[0] === 0x53 ? true : data[0] === 0x4e ? false : undefined));
  });
}
