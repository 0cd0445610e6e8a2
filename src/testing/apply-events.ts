import type { WatchEvent } from "../core/types.js";

/**
 * What a watcher that applies `events` in order to a map of keys and revisions holds, as the
 * {@link WatchEvent} docs say to apply them: a `removeRange` drops each key of its range that
 * `stored` (the prefix's keys now) lacks.
 */
export function applyEvents(
  view: Map<string, number>,
  events: readonly WatchEvent[],
  stored: ReadonlySet<string>,
): Map<string, number> {
  const codePoints = (key: string) => [...key].map((c) => c.codePointAt(0) ?? 0);
  const compare = (a: string, b: string) => {
    const [x, y] = [codePoints(a), codePoints(b)];
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
    return x.length - y.length;
  };
  for (const event of events) {
    if (event.type === "set") view.set(event.key, event.revision);
    else if (event.type === "remove") view.delete(event.key);
    else {
      for (const key of [...view.keys()]) {
        if (compare(key, event.key) >= 0 && compare(key, event.lastKey) <= 0 && !stored.has(key)) view.delete(key);
      }
    }
  }
  return view;
}
