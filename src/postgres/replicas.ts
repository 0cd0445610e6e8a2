import { sql } from "drizzle-orm";
import type { AnyPgDatabase } from "../drivers/contract.js";
import { resultRows } from "../migrations/catalog.js";
import type { PreparedQueries } from "./statements/prepare.js";
import { translateError } from "./translate.js";

/** A read replica as the store reads it: its database, its statements, and what closes it if the store opened it. */
export interface Replica {
  readonly db: AnyPgDatabase;
  readonly queries: () => PreparedQueries;
  /** Ends the pool the store opened for it; absent for an app's own database. */
  readonly end?: () => Promise<void>;
}

/** How long a replica that failed with a lost connection is passed by before it is tried again. */
const DOWN_MS = 5000;
/** How often a replica's lag is measured while it is read. */
const CHECK_EVERY_MS = 1000;

/** What a replica says of itself: a standby or not, and how far its replay is behind what it received. */
const REPLICA_STATE = sql`select pg_catalog.pg_is_in_recovery() as standby,
  pg_catalog.pg_last_wal_replay_lsn()::text as replayed,
  case when pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() then 0
    else coalesce(extract(epoch from pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp()), 0)
  end::float8 as replay_lag`;

const PRIMARY_POSITION = sql`select pg_catalog.pg_current_wal_lsn()::text as lsn`;

/** A WAL position (`16/B374D848`) as a number that orders as it does. */
function lsnValue(text: unknown): bigint | undefined {
  if (typeof text !== "string") return undefined;
  const [high, low] = text.split("/");
  if (high === undefined || low === undefined) return undefined;
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One replica and what the set last learned of it. */
interface Tracked extends Replica {
  /** Not read before this time: it was down, or behind by more than the bound. */
  passUntil: number;
  checkedAt: number;
  checking: Promise<boolean> | undefined;
}

/**
 * The read replicas of a store, taken in turn by the reads that may use one (`consistency:
 * "replica"`). A replica is read when it answered its last check, made at most a second before,
 * and was then at most `maxLagMs` behind the primary. The lag is the larger of what the standby
 * reports (the age of the last transaction it replayed, while it has received more than it
 * replayed) and what the set measures: how long ago the primary was at the position the standby
 * has replayed, from the primary's positions it noted at each check (a standby that stopped
 * receiving does not know it is behind). Any failure on a replica sends the read to the primary:
 * a replica never fails a read the primary could answer.
 */
export class ReplicaSet {
  readonly #replicas: Tracked[];
  readonly #primary: AnyPgDatabase;
  readonly #maxLagMs: number;
  readonly #timeoutMs: number;
  /** The primary's WAL positions, noted at each check, oldest first. */
  readonly #positions: { lsn: bigint; at: number }[] = [];
  #turn = 0;

  constructor(replicas: readonly Replica[], primary: AnyPgDatabase, maxLagMs: number, timeoutMs: number) {
    this.#replicas = replicas.map((replica) => ({ ...replica, passUntil: 0, checkedAt: 0, checking: undefined }));
    this.#primary = primary;
    this.#maxLagMs = maxLagMs;
    this.#timeoutMs = timeoutMs;
  }

  /** Runs `read` on the next replica that may be read; on the primary (`onPrimary`) when none may, or it failed. */
  async read<T>(read: (queries: PreparedQueries) => Promise<T>, onPrimary: () => Promise<T>): Promise<T> {
    for (let tried = 0; tried < this.#replicas.length; tried++) {
      const replica = this.#replicas[this.#turn++ % this.#replicas.length] as Tracked;
      if (!(await this.#readable(replica))) continue;
      try {
        return await read(replica.queries());
      } catch (error) {
        if (translateError(error, { op: "connect" }).code === "CONNECTION") replica.passUntil = Date.now() + DOWN_MS;
        break;
      }
    }
    return onPrimary();
  }

  /** Ends the pools the store opened for its replicas. */
  async close(): Promise<void> {
    await Promise.all(this.#replicas.map((replica) => replica.end?.()));
  }

  #readable(replica: Tracked): Promise<boolean> | boolean {
    const now = Date.now();
    if (now < replica.passUntil) return false;
    if (now - replica.checkedAt < CHECK_EVERY_MS) return true;
    replica.checking ??= this.#check(replica).finally(() => {
      replica.checking = undefined;
    });
    return replica.checking;
  }

  async #check(replica: Tracked): Promise<boolean> {
    try {
      const [position, state] = await withTimeout(
        Promise.all([this.#primary.execute(PRIMARY_POSITION), replica.db.execute(REPLICA_STATE)]),
        this.#timeoutMs,
      );
      const now = Date.now();
      const lsn = lsnValue(resultRows(position)[0]?.lsn);
      if (lsn !== undefined) this.#note(lsn, now);
      const [row] = resultRows(state);
      replica.checkedAt = now;
      if (row?.standby !== true) return true; // The primary itself, or a standby promoted since.
      const lagMs = Math.max(Number(row.replay_lag) * 1000, this.#measuredLagMs(lsnValue(row.replayed), now));
      if (lagMs <= this.#maxLagMs) return true;
      replica.passUntil = now + CHECK_EVERY_MS;
      return false;
    } catch {
      replica.passUntil = Date.now() + DOWN_MS;
      return false;
    }
  }

  #note(lsn: bigint, at: number): void {
    this.#positions.push({ lsn, at });
    // Positions older than the bound tell no more than that a replica is behind by more.
    while (this.#positions.length > 2 && at - (this.#positions[1] as { at: number }).at > this.#maxLagMs + 1000) {
      this.#positions.shift();
    }
  }

  /** How long ago the primary was at `replayed`, by the positions noted: at least that long behind. */
  #measuredLagMs(replayed: bigint | undefined, now: number): number {
    if (replayed === undefined) return Number.POSITIVE_INFINITY;
    let reached: number | undefined;
    for (const { lsn, at } of this.#positions) if (lsn <= replayed) reached = at;
    // Behind every position noted: behind at least since the oldest. The first check has only now.
    return now - (reached ?? (this.#positions[0]?.at as number));
  }
}
