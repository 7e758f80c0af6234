/**
 * Every delay, lease, heartbeat and timeout in baton goes through these helpers.
 *
 * Node's `setTimeout` and `setInterval` hold at most 2^31−1 ms (24.8 days): a longer delay is
 * silently replaced by 1 ms, so a 25-day timeout fires at once and a 30-day heartbeat interval
 * becomes a 1 ms loop. {@link after} and {@link every} chain Node timers of at most that length,
 * so they are exact up to years. Durations beyond {@link MAX_DURATION_MS} (10 years) are refused
 * with {@link DurationOutOfRangeError}: such a value is a unit mistake, not a plan.
 */
import { BatonError } from "./errors.js";

/** The longest delay a single Node timer keeps (2^31−1 ms, about 24.8 days). */
export const MAX_NODE_TIMER_MS = 2 ** 31 - 1;

/** The longest timeout, lease, delay or heartbeat baton accepts: 10 years of 365.25 days. */
export const MAX_DURATION_MS = 3_652.5 * 86_400_000;

/** " (about 68.5 years)" for a number of ms over a year, else "". */
function inYears(ms: number): string {
  const years = ms / (365.25 * 86_400_000);
  return Number.isFinite(years) && years >= 1 ? ` (about ${years.toFixed(1)} years)` : "";
}

/** A duration that is not a number, negative, or longer than {@link MAX_DURATION_MS}. */
export class DurationOutOfRangeError extends BatonError {
  readonly what: string;
  readonly ms: number;
  /** `given`: the duration as the caller typed it (`11y`), to be named in the message instead of ms. */
  constructor(what: string, ms: number, given?: string) {
    super(
      "DURATION_OUT_OF_RANGE",
      given === undefined
        ? `${what} must be a number of milliseconds from 0 to ${MAX_DURATION_MS} (10 years), got ${ms}${inYears(ms)}`
        : `${what} ${given} is more than the 10-year limit (3652.5 days); for no limit, leave it out`,
      { details: { what, ms, maxMs: MAX_DURATION_MS, ...(given === undefined ? {} : { given }) } },
    );
    this.what = what;
    this.ms = ms;
  }
}

/**
 * `ms` when it is a duration baton accepts (0 to 10 years), else {@link DurationOutOfRangeError}
 * naming `what` ("timeoutMs", "a lease"…).
 *
 * @example checkDuration(parseDuration("25d"), "timeout") // 2_160_000_000
 */
export function checkDuration(ms: number, what: string): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || ms > MAX_DURATION_MS)
    throw new DurationOutOfRangeError(what, ms);
  return ms;
}

/** A scheduled call; `cancel()` is idempotent and safe after the call ran. */
export interface Timer {
  cancel(): void;
}

export interface TimerOptions {
  /** Do not keep the process alive for this timer alone (Node's `unref`). */
  unref?: boolean;
}

/**
 * Call `fn` once after `ms` (clamped below at 0), however long: past 24.8 days the wait is a chain
 * of Node timers. Throws {@link DurationOutOfRangeError} for more than 10 years or a non-number.
 *
 * @example
 * const timer = after(30 * 86_400_000, () => abort()); // fires in 30 days, not at once
 * timer.cancel();
 */
export function after(ms: number, fn: () => void, options: TimerOptions = {}): Timer {
  let left = checkDuration(Math.max(0, ms), "a timer's delay");
  let handle: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = (): void => {
    const step = Math.min(left, MAX_NODE_TIMER_MS);
    handle = setTimeout(() => {
      left -= step;
      if (cancelled) return;
      if (left > 0) arm();
      else fn();
    }, step);
    if (options.unref === true) handle.unref();
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      if (handle !== undefined) clearTimeout(handle);
    },
  };
}

/**
 * Call `fn` every `ms` (at least 1 ms) until cancelled, however long the period.
 *
 * @example const beat = every(leaseMs / 3, () => void heartbeat(), { unref: true });
 */
export function every(ms: number, fn: () => void, options: TimerOptions = {}): Timer {
  const period = Math.max(1, checkDuration(ms, "a timer's period"));
  if (period <= MAX_NODE_TIMER_MS) {
    const handle = setInterval(fn, period);
    if (options.unref === true) handle.unref();
    return { cancel: () => clearInterval(handle) };
  }
  let current: Timer | undefined;
  let cancelled = false;
  const next = (): void => {
    current = after(
      period,
      () => {
        if (cancelled) return;
        next();
        fn();
      },
      options,
    );
  };
  next();
  return {
    cancel() {
      cancelled = true;
      current?.cancel();
    },
  };
}

/**
 * Resolve after `ms`. With `signal`, resolve early when it aborts (leaving no timer behind), so a
 * race against other work does not keep the process alive for the rest of the wait.
 *
 * @example await sleep(50);
 */
export function sleep(ms: number, options: TimerOptions & { signal?: AbortSignal } = {}): Promise<void> {
  return new Promise<void>((resolve) => {
    const signal = options.signal;
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      resolve();
    };
    const timer = after(
      ms,
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      options,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
