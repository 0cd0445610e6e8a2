import { setTimeout as sleep } from "node:timers/promises";
import type { Store, WatchEvent } from "../../src/index.js";
import { StoreError } from "../../src/index.js";

/** One call that failed: its error's code (`StoreError`) or message, and when it settled. */
export interface FailedWrite {
  code: string;
  at: number;
}

/** What writers did while they ran: the keys acknowledged, and the calls that failed. */
export interface WriteReport {
  /** Each key written once, by one writer; `at` is when `set` resolved. */
  acknowledged: { key: string; at: number }[];
  failed: FailedWrite[];
  /** Calls that had not settled `settleMs` after the writers were told to stop: should be none. */
  unsettled: number;
}

export interface WriteLoad {
  /** Stops the writers and waits up to `settleMs` for their calls in flight. */
  stop(settleMs?: number): Promise<WriteReport>;
}

/**
 * `writers` loops, each writing new keys (`w<writer>-<n>`) one call after another with `write`,
 * as fast as it takes them. A failed call is recorded (a `StoreError`'s code, else the driver's
 * code or message), and the writer goes on 20 ms later.
 */
export function startWriters(write: (key: string) => Promise<unknown>, writers = 16): WriteLoad {
  const acknowledged: WriteReport["acknowledged"] = [];
  const failed: FailedWrite[] = [];
  let stopped = false;
  let inFlight = 0;
  const loops = Array.from({ length: writers }, async (_, writer) => {
    for (let n = 0; !stopped; n++) {
      const key = `w${writer}-${n}`;
      inFlight++;
      try {
        await write(key);
        acknowledged.push({ key, at: Date.now() });
      } catch (error) {
        const code = error instanceof StoreError ? error.code : (error as { code?: string }).code;
        failed.push({ code: code ?? String(error), at: Date.now() });
        await sleep(20);
      } finally {
        inFlight--;
      }
    }
  });
  return {
    stop: async (settleMs = 30_000) => {
      stopped = true;
      await Promise.race([Promise.all(loops), sleep(settleMs)]);
      return { acknowledged, failed, unsettled: inFlight };
    },
  };
}

/** How writes went through a failover that started at `startedAt`. */
export interface Outage {
  /** From the failover's start to the end of the longest stretch without an acknowledged write. */
  resumedAfterMs: number;
  /** From the failover's start to the last failed call (0 when none failed). */
  lastFailureAfterMs: number;
}

/** The longest stretch without an acknowledgement that ends after `startedAt`, and the last failure. */
export function outageOf(report: WriteReport, startedAt: number): Outage {
  const times = [startedAt, ...report.acknowledged.map((ack) => ack.at).filter((at) => at > startedAt)].sort(
    (a, b) => a - b,
  );
  let longest = { gap: -1, end: startedAt };
  for (let i = 1; i < times.length; i++) {
    const gap = (times[i] as number) - (times[i - 1] as number);
    if (gap > longest.gap) longest = { gap, end: times[i] as number };
  }
  const lastFailure = Math.max(startedAt, ...report.failed.map((failure) => failure.at));
  return { resumedAfterMs: longest.end - startedAt, lastFailureAfterMs: lastFailure - startedAt };
}

/** A watch of `prefix` run in the background, keeping every event it delivers. */
export interface WatchRecorder {
  events: WatchEvent[];
  /** Resolves once the watch delivered a change of every key of `keys`, or rejects after `timeoutMs`. */
  waitFor(keys: Iterable<string>, timeoutMs: number): Promise<void>;
  /** Ends the watch; resolves with the error it ended with, if it did. */
  stop(): Promise<unknown>;
}

export function recordWatch(store: Store, prefix: string, fromRevision: number): WatchRecorder {
  const events: WatchEvent[] = [];
  const controller = new AbortController();
  const seen = new Set<string>();
  let failure: unknown;
  const running = (async () => {
    try {
      for await (const event of store.watch(prefix, { fromRevision, signal: controller.signal })) {
        events.push(event);
        seen.add(event.key);
      }
    } catch (error) {
      if (!controller.signal.aborted) failure = error;
    }
  })();
  return {
    events,
    waitFor: async (keys, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      const wanted = [...keys];
      for (;;) {
        const missing = wanted.filter((key) => !seen.has(key));
        if (missing.length === 0) return;
        if (failure !== undefined) throw failure;
        if (Date.now() > deadline) {
          throw new Error(`the watch missed ${missing.length} keys, such as ${missing.slice(0, 3).join(", ")}`);
        }
        await sleep(50);
      }
    },
    stop: async () => {
      controller.abort();
      await running;
      return failure;
    },
  };
}
