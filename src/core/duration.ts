import { InvalidInputError } from "./errors.js";
import { checkDuration, DurationOutOfRangeError, MAX_DURATION_MS } from "./timer.js";

const DAY_MS = 86_400_000;

/** The units of a duration; a year is 365 days (`1y` = `365d`). */
const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: DAY_MS,
  w: 7 * DAY_MS,
  y: 365 * DAY_MS,
};

/** The unit names as a regular expression alternative (`ms` first), for every parser of durations. */
export const DURATION_UNITS = "ms|s|m|h|d|w|y";

/**
 * `value` (digits, perhaps a fraction) times `unit` ms as a whole number of ms, or undefined when
 * it is not one (`0.5ms`, `0.0001s`): computed exactly, so `1.1s` is 1100, not 1100.0000000000002.
 */
function wholeMs(value: string, unit: number): number | undefined {
  const [whole = "", fraction = ""] = value.split(".");
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole + fraction) * BigInt(unit);
  return scaled % scale === 0n ? Number(scaled / scale) : undefined;
}

/**
 * Parse a duration such as `500ms`, `30s`, `10m`, `2h`, `7d`, `2w`, `1y`, `1h30m` or a bare number
 * of seconds. A duration is a whole number of milliseconds: `0.5ms` or `0.0001s` is refused with
 * INVALID_INPUT naming `what` (the flag or field, as the caller wrote it), not rounded to 0 or 1.
 *
 * @example parseDuration("1h30m") // 5_400_000
 */
export function parseDuration(text: string, what?: string): number {
  const trimmed = text.trim();
  const named = what === undefined ? "" : `${what} `;
  const parts = /^\d+(\.\d+)?$/.test(trimmed)
    ? [[trimmed, trimmed, "s"]]
    : [...trimmed.matchAll(new RegExp(`(\\d+(?:\\.\\d+)?)(${DURATION_UNITS})`, "g"))];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) {
    throw new InvalidInputError(`${named}'${text}' is not a duration (try 30s, 10m, 2h, 7d, 2w, 1y)`);
  }
  let ms = 0;
  for (const part of parts) {
    const add = wholeMs(part[1]!, UNITS[part[2]!]!);
    if (add === undefined)
      throw new InvalidInputError(
        `${named}'${text}' is not a whole number of milliseconds: the shortest duration is 1ms`,
        { ...(what === undefined ? {} : { field: what }), given: trimmed },
      );
    ms += add;
  }
  return ms;
}

/** The words a point in time may be given by, besides an ISO date and a duration ago. */
export const TIME_WORDS = ["now", "today", "yesterday"] as const;

/**
 * A point in time from an ISO date, a duration ago (`2h` = two hours before `now`), or a word:
 * `now`, `today` (the last local midnight) or `yesterday` (the local midnight before it). Local is
 * the time zone of the process that answers (its `TZ`).
 *
 * @example parseTimeRef("yesterday", Date.parse("2026-03-04T15:00:00")) // 2026-03-03T00:00 local
 */
export function parseTimeRef(text: string, now: number): number {
  const trimmed = text.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const t = Date.parse(trimmed);
    if (Number.isNaN(t)) throw new InvalidInputError(`'${text}' is not a valid date`);
    return t;
  }
  const word = trimmed.toLowerCase();
  if (word === "now") return now;
  if (word === "today" || word === "yesterday") {
    const midnight = new Date(now);
    midnight.setHours(0, 0, 0, 0);
    if (word === "yesterday") midnight.setDate(midnight.getDate() - 1);
    return midnight.getTime();
  }
  try {
    return now - parseDuration(trimmed);
  } catch {
    throw new InvalidInputError(
      `'${text}' is not a time: give an ISO date (2026-01-31), a duration ago (30m, 2h, 7d), today or yesterday`,
    );
  }
}

/**
 * A duration that becomes a timer (a timeout, an idle timeout, a lease): {@link parseDuration},
 * then refused with `DURATION_OUT_OF_RANGE` beyond 10 years.
 *
 * @example parseTimerDuration("25d", "timeout") // 2_160_000_000
 */
export function parseTimerDuration(text: string, what: string): number {
  const ms = parseDuration(text, what);
  // Refused in the caller's own words: "--timeout 11y is more than the 10-year limit".
  if (ms > MAX_DURATION_MS) throw new DurationOutOfRangeError(what, ms, text.trim());
  return checkDuration(ms, what);
}
