import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { passwordFromFile } from "../src/config/pgpass.js";
import {
  configFromEnv,
  defaultConfig,
  type PostgresConfig,
  parseDsn,
  SSL_MODES,
  StoreError,
  TARGET_SESSION_ATTRS,
  toDsn,
  validateConfig,
} from "../src/index.js";

function configError(run: () => unknown): StoreError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe("CONFIG");
    return error as StoreError;
  }
  throw new Error("expected a CONFIG error");
}

describe("defaultConfig", () => {
  it("has the Go store's defaults", () => {
    expect({ ...defaultConfig() }).toEqual({
      host: "localhost",
      port: 5432,
      user: "postgres",
      password: "postgres",
      database: "workflow",
      sslMode: "disable",
    });
  });

  it("returns a new object each time", () => {
    const config = defaultConfig();
    config.host = "elsewhere";
    expect(defaultConfig().host).toBe("localhost");
  });
});

describe("validateConfig", () => {
  const valid = defaultConfig();

  it.each([
    ["an empty host", { host: "" }],
    ["an empty user", { user: "" }],
    ["an empty database", { database: "" }],
    ["port 0", { port: 0 }],
    ["port 65536", { port: 65536 }],
    ["a fractional port", { port: 5432.5 }],
    ["an unknown sslMode", { sslMode: "prefer" }],
    ["a pool of 0", { max: 0 }],
    ["a negative idle timeout", { idleTimeoutSeconds: -1 }],
    ["a password that is not a string", { password: 42 }],
    ["a statement timeout under a millisecond but not 0", { statementTimeoutSeconds: 0.0005 }],
    ["a negative lock timeout", { lockTimeoutSeconds: -1 }],
    ["a timeout under a millisecond", { statementTimeoutSeconds: 0.0001 }],
    ["a timeout past PostgreSQL's limit", { lockTimeoutSeconds: 2_147_484 }],
    ["a timeout that is not a number", { statementTimeoutSeconds: "5" }],
    ["an infinite timeout", { lockTimeoutSeconds: Number.POSITIVE_INFINITY }],
  ])("rejects %s with CONFIG", (_what, change) => {
    configError(() => validateConfig({ ...valid, ...change } as PostgresConfig));
  });

  it("accepts ports 1 and 65535 and every sslMode", () => {
    expect(validateConfig({ ...valid, port: 1 }).port).toBe(1);
    expect(validateConfig({ ...valid, port: 65535 }).port).toBe(65535);
    for (const sslMode of SSL_MODES) expect(validateConfig({ ...valid, sslMode }).sslMode).toBe(sslMode);
  });

  it("takes statement and lock timeouts in seconds, fractions too, and leaves them unset by default", () => {
    const config = validateConfig({ ...valid, statementTimeoutSeconds: 30, lockTimeoutSeconds: 0.5 });
    expect([config.statementTimeoutSeconds, config.lockTimeoutSeconds]).toEqual([30, 0.5]);
    expect(Object.keys(validateConfig(valid))).not.toContain("statementTimeoutSeconds");
    expect(Object.keys(validateConfig(valid))).not.toContain("lockTimeoutSeconds");
    // 0 is PostgreSQL's "off", sent to override a setting of the database or role.
    expect(validateConfig({ ...valid, statementTimeoutSeconds: 0 }).statementTimeoutSeconds).toBe(0);
  });

  it("turns an empty sslMode into disable", () => {
    expect(validateConfig({ ...valid, sslMode: "" as never }).sslMode).toBe("disable");
  });

  it("drops optional fields left undefined", () => {
    expect(Object.keys(validateConfig({ ...valid, max: undefined, sslRootCert: undefined }))).not.toContain("max");
  });
});

describe("parseDsn", () => {
  it("reads the keyword/value form, with quoted values and escapes", () => {
    const config = parseDsn(
      "host=db.internal port = 6543 user=app password='a b\\'c\\\\d' dbname=flows sslmode=verify-full sslrootcert=/etc/ca.pem connect_timeout=3 application_name='my app'",
    );
    expect({ ...config }).toEqual({
      host: "db.internal",
      port: 6543,
      user: "app",
      password: "a b'c\\d",
      database: "flows",
      sslMode: "verify-full",
      sslRootCert: "/etc/ca.pem",
      connectTimeoutSeconds: 3,
      applicationName: "my app",
    });
  });

  it("reads the Go store's example DSN", () => {
    const config = parseDsn("host=localhost port=5432 user=postgres password=secret dbname=workflow sslmode=disable");
    expect({ ...config }).toEqual({ ...defaultConfig(), password: "secret" });
  });

  it("reads statement_timeout and lock_timeout in seconds, in both forms", () => {
    const config = parseDsn("host=h statement_timeout=30 lock_timeout=0.25");
    expect([config.statementTimeoutSeconds, config.lockTimeoutSeconds]).toEqual([30, 0.25]);
    const fromUrl = parseDsn("postgres://u@h/d?statement_timeout=1.5&lock_timeout=2");
    expect([fromUrl.statementTimeoutSeconds, fromUrl.lockTimeoutSeconds]).toEqual([1.5, 2]);
  });

  it("takes an empty quoted value", () => {
    expect(parseDsn("password=''").password).toBe("");
  });

  it("ignores libpq's keywords it has no use for, and refuses others, naming a near miss only", () => {
    expect(parseDsn("host=h options='-c x=y' target_session_attrs=any").host).toBe("h");
    expect(parseDsn("postgres://h/d?keepalives=1&channel_binding=prefer").host).toBe("h");
    // A typo must not connect without the TLS it asked for.
    expect(configError(() => parseDsn("postgres://h/d?sslmod=require")).message).toBe(
      "workflow store config: invalid DSN: unknown parameter sslmod: did you mean sslmode?",
    );
    expect(configError(() => parseDsn("sslmod=require")).message).toContain(
      "unknown keyword sslmod: did you mean sslmode?",
    );
    expect(configError(() => parseDsn("postgres://h/d?ssl=true")).message).toContain("did you mean sslmode=require?");
    // An unquoted password with a space leaves a piece of it where a keyword goes: never shown.
    const split = configError(() => parseDsn("host=h password=correct horse=battery"));
    expect(split.message).not.toMatch(/horse|battery/);
    expect(split.message).toContain("quote values with spaces");
  });

  it("names the keyword as written in errors about its value", () => {
    expect(configError(() => parseDsn("sslmode=prefer")).message).toContain(
      'sslmode "prefer" is not one the store takes',
    );
    expect(configError(() => parseDsn("pool_max=0")).message).toContain(
      "pool_max must be a whole number of at least 1",
    );
    expect(configError(() => parseDsn("port=70000")).message).toContain("port must be a whole number from 1 to 65535");
  });

  it.each(["postgres", "postgresql"])("reads %s:// URLs, percent-decoded, with sslmode", (scheme) => {
    const config = parseDsn(
      `${scheme}://us%40er:p%40ss%3Aw%2Frd@db.example:6000/my%20db?sslmode=require&application_name=x`,
    );
    expect({ ...config }).toEqual({
      host: "db.example",
      port: 6000,
      user: "us@er",
      password: "p@ss:w/rd",
      database: "my db",
      sslMode: "require",
      applicationName: "x",
    });
  });

  it("reads an IPv6 host and keeps defaults for what a URL leaves out", () => {
    const config = parseDsn("postgres://[::1]/");
    expect(config.host).toBe("::1");
    expect(config.port).toBe(5432);
    expect(config.database).toBe("workflow");
  });

  it("reads several hosts with target_session_attrs, in the URL and the keyword/value forms alike", () => {
    const expected = {
      host: "db1",
      port: 5433,
      hosts: [
        { host: "db1", port: 5433 },
        { host: "db2", port: 5434 },
      ],
      targetSessionAttrs: "read-write",
    };
    expect(parseDsn("postgres://app:pw@db1:5433,db2:5434/flows?target_session_attrs=read-write")).toMatchObject(
      expected,
    );
    expect(parseDsn("host=db1,db2 port=5433,5434 user=app dbname=flows target_session_attrs=read-write")).toMatchObject(
      expected,
    );
    // One port for every host; a URL's host without a port takes 5432; an address in brackets.
    expect(parseDsn("host=db1,db2 port=6000").hosts).toEqual([
      { host: "db1", port: 6000 },
      { host: "db2", port: 6000 },
    ]);
    expect(parseDsn("postgres://[::1]:6000,db2/x").hosts).toEqual([
      { host: "::1", port: 6000 },
      { host: "db2", port: 5432 },
    ]);
    // The URL's parameters win over its authority, as in libpq.
    expect(parseDsn("postgres://a:1/x?host=b,c&port=2").hosts).toEqual([
      { host: "b", port: 2 },
      { host: "c", port: 2 },
    ]);
    // A list of one is a host.
    expect(parseDsn("host=db1 port=5433")).not.toHaveProperty("hosts");
    expect(validateConfig({ ...defaultConfig(), hosts: [{ host: "only", port: 7 }] })).toMatchObject({
      host: "only",
      port: 7,
    });
    expect(validateConfig({ ...defaultConfig(), hosts: [{ host: "only", port: 7 }] })).not.toHaveProperty("hosts");
  });

  it.each([
    ["more ports than hosts", "host=a,b port=1,2,3 password=secret", "3 ports for 2 hosts"],
    ["an empty host in the list", "host=a,,b password=secret", "empty name"],
    ["a URL host with a bad port", "postgres://u:secret@a:1,b:x/d", "host:port"],
    ["an unknown target_session_attrs", "host=a target_session_attrs=writable password=secret", "read-write"],
  ])("rejects %s with CONFIG", (_what, dsn, says) => {
    const error = configError(() => parseDsn(dsn));
    expect(error.message).toContain(says);
    expect(error.message).not.toContain("secret");
  });

  it("refuses a config host with a comma, and checks every server of hosts", () => {
    expect(configError(() => validateConfig({ ...defaultConfig(), host: "a,b" })).message).toContain("hosts");
    const hosts = [
      { host: "a", port: 1 },
      { host: "b", port: 0 },
    ];
    expect(configError(() => validateConfig({ ...defaultConfig(), hosts })).message).toContain("hosts[1].port");
    expect(
      configError(() => validateConfig({ ...defaultConfig(), targetSessionAttrs: "rw" as never })).message,
    ).toContain("targetSessionAttrs");
  });

  it("leaves the password empty when the string has none, for PGPASSWORD and the password file", () => {
    expect(parseDsn("postgres://app@db/workflow").password).toBe("");
    expect(parseDsn("host=db user=app").password).toBe("");
    // The Go store's default stays with config objects.
    expect(defaultConfig().password).toBe("postgres");
    expect(configFromEnv({ POSTGRES_HOST: "db" }).password).toBe("postgres");
    expect(toDsn(parseDsn("host=db user=app"))).not.toContain("password");
  });

  it.each([
    ["an unterminated quote", "host=h password='secret"],
    ["a missing =", "host h"],
    ["a port that is not a number", "port=abc password=secret"],
    ["an unknown sslmode", "sslmode=prefer password=secret"],
    ["a malformed URL", "postgres://user:secret@host:notaport/db"],
    ["a statement_timeout with a unit", "statement_timeout=5s password=secret"],
    ["a lock_timeout that is negative", "lock_timeout=-1 password=secret"],
  ])("rejects %s with CONFIG, without repeating the password", (_what, dsn) => {
    const error = configError(() => parseDsn(dsn));
    expect(error.message).not.toContain("secret");
  });
});

describe("passwordFromFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "dws-pgpass-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const target = { host: "db.internal", port: 5433, database: "app", user: "me" };
  const lookUp = (lines: string[], mode = 0o600) => {
    const file = join(dir, `pgpass-${lines.length}-${mode}`);
    writeFileSync(file, lines.join("\n"));
    chmodSync(file, mode);
    return passwordFromFile(target, { PGPASSFILE: file });
  };

  it("takes the first line whose fields match, * matching anything, with \\: and \\\\ unescaped", () => {
    expect(lookUp(["db.internal:5432:app:me:wrong port", "db.internal:*:app:me:a\\:b\\\\c:d", "*:*:*:*:later"])).toBe(
      "a:b\\c:d",
    );
    expect(lookUp(["# db.internal:5433:app:me:comment", "", "other:*:*:*:no"])).toBeUndefined();
  });

  it("ignores a file others may read, and a missing one", () => {
    expect(lookUp(["*:*:*:*:secret"], 0o640)).toBeUndefined();
    expect(passwordFromFile(target, { PGPASSFILE: join(dir, "missing") })).toBeUndefined();
  });
});

describe("toDsn", () => {
  it("writes the keyword/value form, quoting where needed", () => {
    expect(toDsn({ ...defaultConfig(), password: "a b'c" })).toBe(
      "host=localhost port=5432 user=postgres password='a b\\'c' dbname=workflow sslmode=disable",
    );
  });

  it("round-trips any valid config through parseDsn", () => {
    const text = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes("\0"));
    const host = text.filter((s) => !s.includes(","));
    const server = fc.record({ host, port: fc.integer({ min: 1, max: 65535 }) });
    const config = fc.record(
      {
        host,
        port: fc.integer({ min: 1, max: 65535 }),
        hosts: fc.array(server, { minLength: 2, maxLength: 3 }),
        targetSessionAttrs: fc.constantFrom(...TARGET_SESSION_ATTRS),
        user: text,
        password: fc.string({ maxLength: 20 }),
        database: text,
        sslMode: fc.constantFrom(...SSL_MODES),
        sslRootCert: text,
        sslCert: text,
        sslKey: text,
        max: fc.integer({ min: 1, max: 100 }),
        idleTimeoutSeconds: fc.integer({ min: 0, max: 1000 }),
        maxLifetimeSeconds: fc.integer({ min: 0, max: 100000 }),
        connectTimeoutSeconds: fc.integer({ min: 1, max: 100 }),
        applicationName: text,
        statementTimeoutSeconds: fc.integer({ min: 1, max: 2_147_483_647 }).map((ms) => ms / 1000),
        lockTimeoutSeconds: fc.integer({ min: 1, max: 100_000 }).map((ms) => ms / 1000),
      },
      { requiredKeys: ["host", "port", "user", "password", "database", "sslMode"] },
    );
    fc.assert(
      fc.property(config, (c) => {
        // With hosts, host and port are the first of them.
        const expected = c.hosts === undefined ? c : { ...c, host: c.hosts[0]?.host, port: c.hosts[0]?.port };
        expect({ ...parseDsn(toDsn(c)) }).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe("configFromEnv", () => {
  it("prefers DATABASE_URL", () => {
    const config = configFromEnv({ DATABASE_URL: "postgres://u:p@h:1234/d", POSTGRES_HOST: "ignored" });
    expect([config.host, config.port, config.user, config.password, config.database]).toEqual([
      "h",
      1234,
      "u",
      "p",
      "d",
    ]);
  });

  it("reads POSTGRES_* over the defaults", () => {
    const config = configFromEnv({
      POSTGRES_HOST: "pg",
      POSTGRES_PORT: "5433",
      POSTGRES_USER: "me",
      POSTGRES_PASSWORD: "pw",
      POSTGRES_DB: "wf",
    });
    expect({ ...config }).toEqual({
      ...defaultConfig(),
      host: "pg",
      port: 5433,
      user: "me",
      password: "pw",
      database: "wf",
    });
    expect({ ...configFromEnv({}) }).toEqual({ ...defaultConfig() });
  });

  it("rejects a POSTGRES_PORT that is not a number", () => {
    configError(() => configFromEnv({ POSTGRES_PORT: "five" }));
  });
});

describe("a config in logs", () => {
  const config = validateConfig({ ...defaultConfig(), password: "hunter2-secret" });

  it("shows no password when inspected, printed or serialized", () => {
    expect(inspect(config)).not.toContain("hunter2-secret");
    expect(inspect({ nested: { config } }, { depth: 5 })).not.toContain("hunter2-secret");
    expect(JSON.stringify(config)).not.toContain("hunter2-secret");
    expect(JSON.stringify({ config })).not.toContain("hunter2-secret");
    expect(inspect(config)).toContain("[redacted]");
  });

  it("still hands the password to code that reads it", () => {
    expect(config.password).toBe("hunter2-secret");
    expect({ ...config }.password).toBe("hunter2-secret");
  });
});
