import { InvalidInputError } from "./errors.js";
import { checkDuration } from "./timer.js";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parse a duration such as `500ms`, `30s`, `10m`, `2h`, `7d`, `1h30m` or a bare number of seconds.
 *
 * @example parseDuration("1h30m") // 5_400_000
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) {
    throw new InvalidInputError(`'${text}' is not a duration (try 30s, 10m, 2h, 7d)`);
  }
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0));
}

/**
 * A point in time from an ISO date or a duration ago (`2h` = two hours before `now`).
 */
export function parseTimeRef(text: string, now: number): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw new InvalidInputError(`'${text}' is not a valid date`);
    return t;
  }
  return now - parseDuration(text);
}

/**
 * A duration that becomes a timer (a timeout, an idle timeout, a lease): {@link parseDuration},
 * then refused with `DURATION_OUT_OF_RANGE` beyond 10 years.
 *
 * @example parseTimerDuration("25d", "timeout") // 2_160_000_000
 */
export function parseTimerDuration(text: string, what: string): number {
  return checkDuration(parseDuration(text), what);
}
