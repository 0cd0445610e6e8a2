import { Presets, SingleBar } from "cli-progress";
import type { OutputStream } from "./io.js";
import { rows } from "./output.js";

/** Shows how far a purge has got. */
interface PurgeProgress {
  /** Called with the rows removed so far, once per batch. */
  update(removed: number): void;
  /** Ends the display; called once, whether the purge finished or failed. */
  stop(): void;
}

/**
 * A progress bar on stderr when it is a terminal; otherwise one plain line per batch, which a log
 * file can keep and a bar's carriage returns would garble.
 */
export function purgeProgress(total: number, stream: OutputStream): PurgeProgress {
  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        stream,
        format: "purging [{bar}] {percentage}% | {value}/{total} rows | {duration_formatted}",
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0);
    return {
      update: (removed) => {
        // Rows can grow old while the purge runs, so more may go than were counted.
        if (removed > bar.getTotal()) bar.setTotal(removed);
        bar.update(removed);
      },
      stop: () => bar.stop(),
    };
  }
  return {
    update: (removed) => {
      stream.write(`workflow-store: purged ${removed} of ${rows(Math.max(total, removed))}\n`);
    },
    stop: () => {},
  };
}
