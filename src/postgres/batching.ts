import { arrayParameter, setRowsParameters } from "./statements/parameters.js";
import type { PreparedQueries } from "./statements/prepare.js";

/**
 * Statements a store runs at once before calls of a batched kind wait to go together: more only
 * queue in the server. Where several processes write to one server, each running fewer and
 * batching more leaves the server less to do per row; two are enough to keep one process's
 * round trips overlapping (BENCHMARKS.md has the figures).
 */
const RUNNING_AT_ONCE = 2;
/**
 * A statement that has run longer than this (waiting for a row lock, say, or reading a large page)
 * no longer holds calls back: they go on other connections.
 */
const STALLED_AFTER_MS = 20;

/** Most calls one batched statement carries. */
const MAX_BATCH_CALLS = 1000;
/** Most value bytes one batched statement carries (a larger single value still goes, alone). */
const MAX_BATCH_BYTES = 16 * 1024 * 1024;

interface Waiting<In, Out> {
  input: In;
  /** When it arrived, to serve the longest-waiting queue first. */
  arrival: number;
  resolve(output: Out): void;
  reject(error: unknown): void;
}

/** Calls of one kind waiting for a connection, and how to send them together. */
class Queue<In, Out> {
  readonly waiting: Waiting<In, Out>[] = [];

  constructor(
    readonly send: (inputs: In[]) => Promise<Out[]>,
    readonly bytes: (input: In) => number,
  ) {}

  /** The calls the next statement carries: the oldest, up to the batch's bounds. */
  take(): Waiting<In, Out>[] {
    let count = 0;
    let bytes = 0;
    for (const call of this.waiting) {
      bytes += this.bytes(call.input);
      if (count > 0 && (count === MAX_BATCH_CALLS || bytes > MAX_BATCH_BYTES)) break;
      count++;
    }
    return this.waiting.splice(0, count);
  }
}

/**
 * Counts the statements a store is running. While 2 (or the pool's size, if smaller) have been
 * running for less than 20 ms each, calls of a batched kind wait in a queue; when one of those
 * finishes or stalls, the queue that has waited longest goes as one statement (a read of many
 * rows, or one multi-row upsert committed once), and each call then settles with its own result,
 * or with the statement's error. Below that, nothing waits: a call goes as it comes.
 */
export class Batching {
  readonly #limit: number;
  readonly #queues: Queue<never, unknown>[] = [];
  /** When each statement running started. */
  readonly #running = new Set<{ started: number }>();
  #arrivals = 0;
  #recheck: NodeJS.Timeout | undefined;

  constructor(connections: number) {
    this.#limit = Math.min(connections, RUNNING_AT_ONCE);
  }

  /** Whether a call now would wait. */
  get full(): boolean {
    const stalled = performance.now() - STALLED_AFTER_MS;
    let running = 0;
    for (const statement of this.#running) if (statement.started > stalled) running++;
    return running >= this.#limit;
  }

  /** Runs a statement, counting it as running until it settles. */
  async run<T>(statement: () => Promise<T>): Promise<T> {
    const entry = { started: performance.now() };
    this.#running.add(entry);
    try {
      return await statement();
    } finally {
      this.#running.delete(entry);
      this.#sendWaiting();
    }
  }

  /**
   * A kind of call sent together: `send` gets the inputs of the calls waiting and returns their
   * outputs in the same order; `bytes` tells how much of a statement an input takes.
   */
  queue<In, Out>(send: (inputs: In[]) => Promise<Out[]>, bytes: (input: In) => number = () => 0) {
    const queue = new Queue(send, bytes);
    this.#queues.push(queue as unknown as Queue<never, unknown>);
    return (input: In): Promise<Out> =>
      new Promise<Out>((resolve, reject) => {
        queue.waiting.push({ input, arrival: this.#arrivals++, resolve, reject });
        this.#sendWaiting();
      });
  }

  #sendWaiting(): void {
    while (!this.full) {
      let oldest: Queue<never, unknown> | undefined;
      for (const queue of this.#queues) {
        const first = queue.waiting[0];
        if (first !== undefined && (oldest === undefined || first.arrival < (oldest.waiting[0]?.arrival ?? 0))) {
          oldest = queue;
        }
      }
      if (oldest === undefined) return;
      const calls = oldest.take();
      const send = oldest.send;
      this.run(() => send(calls.map((call) => call.input))).then(
        (outputs) => {
          for (const [i, call] of calls.entries()) call.resolve(outputs[i]);
        },
        (error: unknown) => {
          for (const call of calls) call.reject(error);
        },
      );
    }
    if (this.#recheck === undefined && this.#queues.some((queue) => queue.waiting.length > 0)) {
      // Calls wait, and if nothing running finishes, the oldest statement counts as stalled soon.
      let oldest = Number.POSITIVE_INFINITY;
      for (const statement of this.#running) oldest = Math.min(oldest, statement.started);
      const wait = Math.max(1, oldest + STALLED_AFTER_MS - performance.now());
      this.#recheck = setTimeout(() => {
        this.#recheck = undefined;
        this.#sendWaiting();
      }, wait);
    }
  }
}

/** A key of a prefix, as one string (neither may hold a NUL). */
function rowId(prefix: string, key: string): string {
  return `${prefix}\0${key}`;
}

type StoredRow = { value: Buffer | null; size: number };

/**
 * The store's `get` and `set` sent together while its pool is busy: waiting gets as one read of
 * many rows, waiting sets as one upsert of many rows, where a key set twice keeps the later call's
 * value, as if the calls had run one after the other.
 */
export function batchedCalls(queries: PreparedQueries, connections: number, maxBytes: number) {
  const batching = new Batching(connections);
  const get = batching.queue(async (calls: { prefix: string; key: string }[]) => {
    const rows = await queries.getRows.execute({
      prefixes: arrayParameter(calls.map((call) => call.prefix)),
      keys: arrayParameter(calls.map((call) => call.key)),
      maxBytes,
    });
    const found = new Map<string, StoredRow>(rows.map((row) => [rowId(row.prefix, row.key), row]));
    return calls.map((call) => found.get(rowId(call.prefix, call.key)));
  });
  const set = batching.queue(
    async (calls: { prefix: string; key: string; value: Buffer }[]) => {
      const latest = new Map(calls.map((call) => [rowId(call.prefix, call.key), call]));
      const rows = [...latest.values()];
      await queries.setRows.execute(
        setRowsParameters(
          rows.map((row) => row.prefix),
          rows.map((row) => row.key),
          rows.map((row) => row.value),
        ),
      );
      return calls.map(() => undefined);
    },
    (call) => call.value.length,
  );
  return { batching, get, set };
}

/** What {@link batchedCalls} gives a store. */
export type BatchedCalls = ReturnType<typeof batchedCalls>;
