import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Connection,
  connectNodePostgres,
  createPostgresStore,
  createStoreWithDb,
  type Lease,
  type Store,
  StoreError,
} from "../src/index.js";
import { collect } from "../src/testing/index.js";
import {
  autoFailoverUnavailable,
  type FailoverReport,
  type Formation,
  startFormation,
} from "./support/auto-failover.js";
import { outageOf, recordWatch, startWriters } from "./support/failover-load.js";

const unavailable = autoFailoverUnavailable();

/**
 * Writes resume within this long of the new primary taking writes (as the harness sees it, by
 * committing a write of its own there), as the README states. How long pg_auto_failover takes to
 * get there is its own: the bench measures the whole, from the failover's start.
 */
const RESUMED_AFTER_PROMOTION_MS = 2000;

/** A store on one driver, through the formation's list of servers. */
interface Opened {
  store: Store;
  connection?: Connection;
}

async function openOnPostgresJs(target: string): Promise<Opened> {
  return { store: await createPostgresStore(target) };
}

async function openOnNodePostgres(target: string): Promise<Opened> {
  const connection = await connectNodePostgres(target);
  return { store: await createStoreWithDb(connection.db), connection };
}

/** Renews until the new primary answers: the lease's row came through the failover. */
async function renewThrough(lease: Lease): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await lease.renew();
      return;
    } catch (error) {
      if (!(error instanceof StoreError && error.code === "CONNECTION") || Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

/**
 * 16 writers, a watch and a held lease on `store` while `fail` loses the primary: every call
 * settles, as a success or `CONNECTION`; every acknowledged write is on the new primary and
 * delivered by the watch, in revision order; the lease renews, and the next holder's token is higher.
 */
async function throughFailover(
  opened: Opened,
  name: string,
  fail: () => Promise<FailoverReport>,
): Promise<{ report: FailoverReport; resumedAfterMs: number }> {
  const { store } = opened;
  const prefix = `/failover/${name}/`;
  try {
    const lease = await store.acquireLease(`lease-${name}`, { ttlMs: 120_000 });
    expect(lease).not.toBeNull();
    const watch = recordWatch(store, prefix, 0);
    const writers = startWriters((key) => store.set(prefix, key, Buffer.from(key)), 16);
    await sleep(1000);
    const report = await fail();
    await sleep(1500);
    const written = await writers.stop();

    expect(written.unsettled).toBe(0);
    expect(new Set(written.failed.map((failure) => failure.code))).toEqual(
      new Set(written.failed.length > 0 ? ["CONNECTION"] : []),
    );
    const acknowledged = written.acknowledged.map((ack) => ack.key);
    expect(acknowledged.filter((key) => key.endsWith("-0")).length).toBe(16);
    const stored = new Set(await collect(store.keys(prefix)));
    expect(acknowledged.filter((key) => !stored.has(key))).toEqual([]);
    const { resumedAfterMs } = outageOf(written, report.startedAt);
    // Writes went on after the failover, on the new primary.
    expect(written.acknowledged.some((ack) => ack.at > report.startedAt + report.writableAfterMs)).toBe(true);

    await watch.waitFor(acknowledged, 30_000);
    expect(await watch.stop()).toBeUndefined();
    const revisions = watch.events.map((event) => event.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length);

    const held = lease as Lease;
    await renewThrough(held);
    await held.release();
    const next = await store.acquireLease(`lease-${name}`, { ttlMs: 1000 });
    expect(next?.token).toBeGreaterThan(held.token);
    await next?.release();
    return { report, resumedAfterMs };
  } finally {
    await opened.store.close();
    await opened.connection?.close();
  }
}

describe.skipIf(unavailable !== undefined)(
  `through a pg_auto_failover failover${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    let formation: Formation;
    beforeAll(async () => {
      formation = await startFormation();
    }, 150_000);
    afterAll(async () => {
      await formation?.stop();
    }, 30_000);

    const cases = [
      { driver: "postgres.js", form: "url", failure: "failover" },
      { driver: "node-postgres", form: "dsn", failure: "failover" },
      { driver: "postgres.js", form: "dsn", failure: "hard" },
      { driver: "node-postgres", form: "url", failure: "hard" },
    ] as const;
    for (const testCase of cases) {
      const { driver, form, failure } = testCase;
      const how =
        failure === "failover" ? "pg_autoctl perform failover" : "a primary stopped hard (pg_ctl stop -m immediate)";
      it.sequential(`${driver}, ${form === "url" ? "URL" : "DSN"} form: ${how} loses no acknowledged write, and writes resume once the standby is promoted`, async () => {
        const target = form === "url" ? formation.url : formation.dsn;
        const opened = driver === "postgres.js" ? await openOnPostgresJs(target) : await openOnNodePostgres(target);
        const { report, resumedAfterMs } = await throughFailover(opened, `${driver}-${failure}`, () =>
          failure === "failover" ? formation.failover() : formation.stopPrimaryHard(),
        );
        expect(resumedAfterMs, JSON.stringify(report)).toBeLessThan(
          report.writableAfterMs + RESUMED_AFTER_PROMOTION_MS,
        );
        // The stopped node rejoins as a standby, for the next case.
        if (failure === "hard" && testCase !== cases.at(-1)) await formation.restartStopped();
      }, 180_000);
    }
  },
);
