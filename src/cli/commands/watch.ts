import type { Command } from "commander";
import { checkPrefix } from "../../index.js";
import { nonNegativeInteger, positiveInteger } from "../arguments.js";
import { globalOptions, withStore } from "../connection.js";
import { type CliRun, field } from "../output.js";

/**
 * `watch <prefix> [--from-revision N] [--count N] [--json]`: prints each change of the prefix as it
 * commits, until interrupted (Ctrl-C ends it with exit 0) or after `--count` changes.
 */
export function registerWatch(program: Command, run: CliRun): void {
  program
    .command("watch")
    .description(
      "print each change of a prefix's keys as it commits: revision, set or remove, and key, tab-separated, one per line (a removal of several keys at once: removeRange, the first key and the last), until Ctrl-C",
    )
    .argument("<prefix>", "the prefix")
    .option(
      "--from-revision <n>",
      "first print the changes after this revision (each key's latest set, and every remove the change log holds)",
      nonNegativeInteger,
    )
    .option("--count <n>", "stop after this many changes", positiveInteger)
    .option("--json", "print one JSON object {revision, type, key} per line instead (lastKey too for removeRange)")
    .action(
      async (prefix: string, options: { fromRevision?: number; count?: number; json?: boolean }, command: Command) => {
        checkPrefix("watch", prefix);
        const stop = new AbortController();
        const interrupted = () => stop.abort();
        const { signals } = run.io;
        signals.once("SIGINT", interrupted);
        signals.once("SIGTERM", interrupted);
        try {
          await withStore(run, globalOptions(command), async (store, _connection, target) => {
            if (target.kind === "embedded") {
              run.note(
                `watch holds the embedded store in ${target.dataDir} (pid ${process.pid}): no other process can open ` +
                  "it, or write to it, until this one stops, so only what --from-revision replays can appear",
              );
            }
            const changes = store.watch(prefix, {
              ...(options.fromRevision !== undefined && { fromRevision: options.fromRevision }),
              signal: stop.signal,
            });
            let left = options.count ?? Number.POSITIVE_INFINITY;
            if (options.count === undefined) run.note(`watching ${JSON.stringify(prefix)}; Ctrl-C stops`);
            for await (const change of changes) {
              const { revision, type, key } = change;
              const lastKey = change.type === "removeRange" ? change.lastKey : undefined;
              await run.printLine(
                options.json
                  ? JSON.stringify({ revision, type, key, ...(lastKey !== undefined && { lastKey }) })
                  : [revision, type, field(key), ...(lastKey !== undefined ? [field(lastKey)] : [])].join("\t"),
              );
              if (--left === 0) break;
            }
          });
        } finally {
          signals.off("SIGINT", interrupted);
          signals.off("SIGTERM", interrupted);
        }
      },
    );
}
