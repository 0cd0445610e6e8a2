import { describeServer, type PostgresHost, type TargetSessionAttrs } from "../../config/config.js";
import { pause } from "../../core/pause.js";

/** What `target_session_attrs` asks of a server: is it a hot standby, does it take writes. */
interface ServerState {
  standby: boolean;
  readOnly: boolean;
}

/** libpq's tests of a server (fe-connect.c), for one pass over the list. */
function fits(target: TargetSessionAttrs, { standby, readOnly }: ServerState): boolean {
  switch (target) {
    case "any":
      return true;
    case "read-write":
      return !standby && !readOnly;
    case "read-only":
      return standby || readOnly;
    case "primary":
      return !standby;
    case "standby":
    case "prefer-standby":
      return standby;
  }
}

/** libpq's passes over the list: `prefer-standby` takes a standby, else any server. */
function passesOf(target: TargetSessionAttrs): TargetSessionAttrs[] {
  return target === "prefer-standby" ? ["prefer-standby", "any"] : [target];
}

/** `transaction_read_only` of a new session: on in a hot standby, or where writes are turned off. */
const STATE_QUERY =
  "select pg_catalog.pg_is_in_recovery() as standby, pg_catalog.current_setting('transaction_read_only') = 'on' as read_only";

/** The parts of a node-postgres `Client` the walk uses. */
interface WalkingClient {
  host: string;
  port: number;
  connectionParameters: { host: string; port: number };
  connect(): Promise<unknown>;
  query(text: string): Promise<{ rows: { standby: boolean; read_only: boolean }[] }>;
  end(): Promise<unknown>;
  on(event: "error", listener: () => void): unknown;
}

type ClientClass = new (options: Record<string, unknown>) => WalkingClient;

/** An error the store reads as `CONNECTION`: SQLSTATE 08001, libpq's "unable to connect". */
function unableToConnect(message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, { cause }), { code: "08001" });
}

/**
 * The server new connections go to, found as libpq finds it: each server in order, the first that
 * answers and fits `target` (a probe connection asks it {@link STATE_QUERY}). Remembered until a
 * connection to it fails or is lost; then the next connection walks the list again, round after
 * round for up to `boundMs`, so that a connection opened during a failover waits for the new
 * primary instead of failing.
 */
class HostWalk {
  #current: PostgresHost | undefined;
  #walking: Promise<PostgresHost> | undefined;

  constructor(
    private readonly servers: readonly PostgresHost[],
    private readonly target: TargetSessionAttrs,
    private readonly boundMs: number,
  ) {}

  choose(probe: (server: PostgresHost) => Promise<ServerState>): Promise<PostgresHost> {
    if (this.#current !== undefined) return Promise.resolve(this.#current);
    this.#walking ??= this.#walk(probe).finally(() => {
      this.#walking = undefined;
    });
    return this.#walking;
  }

  /** A connection to `server` failed, was lost, or found it no longer fits: walk again. */
  lost(server: PostgresHost): void {
    if (this.#current === server) this.#current = undefined;
  }

  fits(state: ServerState): boolean {
    return passesOf(this.target).some((pass) => fits(pass, state));
  }

  async #walk(probe: (server: PostgresHost) => Promise<ServerState>): Promise<PostgresHost> {
    const deadline = Date.now() + this.boundMs;
    let last: unknown;
    for (let round = 0; ; round++) {
      for (const pass of passesOf(this.target)) {
        for (const server of this.servers) {
          try {
            const state = await probe(server);
            if (fits(pass, state)) {
              this.#current = server;
              return server;
            }
            last = unableToConnect(`${describeServer(server)} is ${state.standby ? "a standby" : "read-only"}`);
          } catch (error) {
            last = error;
          }
        }
      }
      if (Date.now() >= deadline) break;
      // Often: a failover's new primary is found within a quarter of a second of taking writes.
      await pause(Math.min(50 * 2 ** round, 250, Math.max(0, deadline - Date.now())));
    }
    const list = this.servers.map(describeServer).join(",");
    throw unableToConnect(
      `no server of ${list} was ${this.target} within ${Math.round(this.boundMs / 1000)} s: ${(last as Error)?.message}`,
      last,
    );
  }
}

/**
 * A node-postgres `Client` class for a `Pool` (its `Client` option) whose connections go to the
 * server a {@link HostWalk} chooses, libpq's multi-host connection done by the store, as
 * node-postgres takes one host only. Each new connection asks its server {@link STATE_QUERY} once
 * when `target` is not `any`, and fails with `CONNECTION` if it no longer fits (a failover moved
 * the primary meanwhile).
 */
export function hostWalkingClient(
  Client: ClientClass,
  servers: readonly PostgresHost[],
  target: TargetSessionAttrs,
  boundMs: number,
): ClientClass {
  const walk = new HostWalk(servers, target, boundMs);
  const probe = async (options: Record<string, unknown>, server: PostgresHost): Promise<ServerState> => {
    // node-postgres's Pool keeps the password as a property a spread does not copy.
    const client = new Client({ ...options, password: options.password, ...server });
    client.on("error", () => {});
    try {
      await client.connect();
      if (target === "any") return { standby: false, readOnly: false };
      const [row] = (await client.query(STATE_QUERY)).rows;
      return { standby: row?.standby === true, readOnly: row?.read_only === true };
    } finally {
      client.end().catch(() => {});
    }
  };
  return class extends Client {
    readonly #options: Record<string, unknown>;

    constructor(options: Record<string, unknown>) {
      super(options);
      this.#options = options;
    }

    // node-postgres's Pool passes a callback; a Client of its own is awaited.
    override connect(callback?: (error?: Error) => void): Promise<unknown> {
      const connecting = this.#connect();
      if (callback === undefined) return connecting;
      connecting.then(() => callback(), callback);
      return Promise.resolve();
    }

    async #connect(): Promise<void> {
      const server = await walk.choose((candidate) => probe(this.#options, candidate));
      this.host = this.connectionParameters.host = server.host;
      this.port = this.connectionParameters.port = server.port;
      try {
        await super.connect();
      } catch (error) {
        walk.lost(server);
        throw error;
      }
      this.on("error", () => walk.lost(server));
      if (target === "any") return;
      let state: ServerState;
      try {
        const [row] = (await super.query(STATE_QUERY)).rows;
        state = { standby: row?.standby === true, readOnly: row?.read_only === true };
      } catch (error) {
        walk.lost(server);
        throw error;
      }
      if (walk.fits(state)) return;
      walk.lost(server);
      await this.end().catch(() => {});
      throw unableToConnect(`${describeServer(server)} is no longer ${target}`);
    }
  };
}
