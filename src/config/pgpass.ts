import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Where a connection goes, as the password file matches it. */
interface PasswordTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** libpq's password file: `PGPASSFILE`, else `~/.pgpass` (`%APPDATA%\postgresql\pgpass.conf` on Windows). */
function passwordFilePath(env: NodeJS.ProcessEnv): string {
  if (env.PGPASSFILE) return env.PGPASSFILE;
  if (process.platform === "win32") return join(env.APPDATA ?? "", "postgresql", "pgpass.conf");
  return join(homedir(), ".pgpass");
}

/** The fields of one line, split at unescaped colons, with `\:` and `\\` unescaped. */
function fields(line: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i++) {
    const char = line.charAt(i);
    if (char === "\\" && i + 1 < line.length) {
      current += line.charAt(++i);
    } else if (char === ":") {
      parts.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * The password for `target` from libpq's password file, or `undefined` when there is no file, no
 * line matches, or the file may be read by others than its owner (libpq ignores such a file too,
 * on systems with Unix permissions). Lines are `host:port:database:user:password`, `*` matching
 * anything; the first matching line wins. The host `localhost` also matches a connection to a
 * Unix socket, as in libpq, which the store never makes.
 */
export function passwordFromFile(target: PasswordTarget, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const text = readablePasswordFile(passwordFilePath(env));
  if (typeof text !== "string") return undefined;
  const wanted = [target.host, String(target.port), target.database, target.user];
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    const parts = fields(line);
    if (parts.length < 5) continue;
    if (wanted.every((value, i) => parts[i] === "*" || parts[i] === value)) return parts.slice(4).join(":");
  }
  return undefined;
}

/**
 * The password file's text; "missing", "open" when others than its owner may read it (then it is
 * not used), or the error that kept it from being read (a file the process may not read, say).
 */
function readablePasswordFile(path: string): string | "missing" | "open" | { unreadable: Error } {
  try {
    const info = statSync(path);
    if (!info.isFile()) return "missing";
    if (process.platform !== "win32" && (info.mode & 0o077) !== 0) return "open";
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? "missing" : { unreadable: error as Error };
  }
}

/**
 * Where the password of a login came from, for the error of a login the server refused: which
 * source libpq's order took it from, or why none was found. Never the password itself.
 */
export function describePasswordSource(
  password: string,
  target: PasswordTarget,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (password !== "") {
    return "the password was the one in the connection settings (a config object that sets none has the Go store's default)";
  }
  if (env.PGPASSWORD) return "the password came from PGPASSWORD";
  const path = passwordFilePath(env);
  if (passwordFromFile(target, env) !== undefined) return `the password came from ${path}`;
  const file = readablePasswordFile(path);
  const where = `${target.host}:${target.port}:${target.database}:${target.user}`;
  if (file === "open") return `no password was sent: ${path} was ignored, as others may read it (chmod 600 it)`;
  if (file === "missing") return `no password was sent: none in the connection settings or PGPASSWORD, and no ${path}`;
  if (typeof file === "object") {
    return `no password was sent: none in the connection settings or PGPASSWORD, and ${path} could not be read (${file.unreadable.message})`;
  }
  return `no password was sent: none in the connection settings or PGPASSWORD, and no line of ${path} matches ${where}`;
}

/**
 * The password a connection sends, as libpq chooses it: the config's own when it has one, else
 * `PGPASSWORD`, else the password file; none (an empty password) when neither has one. Synchronous,
 * for drizzle-kit's config, which cannot wait.
 */
export function resolvePassword(
  password: string,
  target: PasswordTarget,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (password !== "") return password;
  if (env.PGPASSWORD) return env.PGPASSWORD;
  return passwordFromFile(target, env) ?? "";
}
