import { InvalidArgumentError } from "commander";

/** Parses a whole number of at least 1 (`--limit`, `--top`, `--batch-size`); anything else is a usage error. */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError("expected a whole number of at least 1.");
  }
  return Number(value);
}

/** Parses a whole number of at least 0 (`--from-revision`); anything else is a usage error. */
export function nonNegativeInteger(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError("expected a whole number of at least 0.");
  }
  return Number(value);
}

const UNIT_MILLISECONDS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

const DURATION = /^(\d+)([dhms])$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Parses `--older-than`: an age (`30d`, `12h`, `90m`, `45s`) counted back from `now`, or an ISO
 * date. A date or time without an offset is UTC, as the table's timestamps are.
 */
export function cutoff(value: string, now: Date = new Date()): Date {
  const parsed = parseCutoff(value, now);
  if (parsed.getTime() > now.getTime()) {
    // Every row is older than a time to come: most likely a typo, and it would remove everything.
    throw new InvalidArgumentError("the date is in the future, which would remove every row; 0s says that on purpose.");
  }
  return parsed;
}

function parseCutoff(value: string, now: Date): Date {
  const age = DURATION.exec(value);
  if (age !== null) {
    const [, amount = "", unit = ""] = age;
    const since = new Date(now.getTime() - Number(amount) * (UNIT_MILLISECONDS[unit] ?? Number.NaN));
    if (!Number.isNaN(since.getTime())) return since;
  }
  const date = ISO_DATE.exec(value);
  if (date !== null) {
    // JavaScript reads a date-time without an offset in local time; the stored timestamps are UTC.
    const hasTime = value.length > 10;
    const parsed = new Date(hasTime && date[1] === undefined ? `${value.replace(" ", "T")}Z` : value.replace(" ", "T"));
    if (!Number.isNaN(parsed.getTime())) return parsed;
  }
  throw new InvalidArgumentError("expected an age such as 30d, 12h, 90m or 45s, or an ISO date such as 2024-05-01.");
}
