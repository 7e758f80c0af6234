/**
 * The job state machine. One enum, one transition table, pure functions only.
 *
 * ```
 *  waiting ──deps done──▶ queued ──claim──▶ running ──ok──▶ succeeded
 *                           ▲                 ├─fail, attempts left──▶ retrying ──due──▶ (claimable)
 *                           │                 ├─fail, none left ─────▶ failed   (dead letter)
 *                           │                 ├─timeout, none left ──▶ timed_out
 *                           │                 ├─stop ────────────────▶ cancelled
 *                           │                 └─release / lease lost ▶ queued | retrying | failed
 *                           └── redrive / retry (from a terminal state)
 * ```
 * Agents may complete, fail or skip a job that is not running (agent-managed jobs are never
 * claimed by an executor). `archived` is a mark on a terminal job, not a state.
 */
export const JOB_STATES = [
  "waiting",
  "queued",
  "running",
  "retrying",
  "succeeded",
  "failed",
  "timed_out",
  "cancelled",
  "skipped",
] as const;

export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: readonly JobState[] = [
  "succeeded",
  "failed",
  "timed_out",
  "cancelled",
  "skipped",
];
export const LIVE_STATES: readonly JobState[] = ["waiting", "queued", "running", "retrying"];
/** States from which a job can be claimed once its `run_at` is due. */
export const CLAIMABLE_STATES: readonly JobState[] = ["queued", "retrying"];

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

/** True for states a job never leaves on its own. */
export function isTerminal(state: JobState): boolean {
  switch (state) {
    case "succeeded":
    case "failed":
    case "timed_out":
    case "cancelled":
    case "skipped":
      return true;
    case "waiting":
    case "queued":
    case "running":
    case "retrying":
      return false;
    default:
      return assertNever(state);
  }
}

/** True when the work a job stands for is done or deliberately not needed (unblocks dependents). */
export function isSatisfied(state: JobState): boolean {
  return state === "succeeded" || state === "skipped";
}

/** Everything that can happen to a job. */
export type JobAction =
  | "claim"
  | "complete"
  | "fail"
  | "timeout"
  | "crash"
  | "release"
  | "cancel"
  | "skip"
  | "redrive"
  | "retry"
  | "unblock"
  | "block";

/**
 * The state a job moves to when `action` happens in `from`, or `undefined` when the action is not
 * allowed there. `attemptsLeft` decides between retrying and dead-lettering.
 */
export function nextState(from: JobState, action: JobAction, attemptsLeft = false): JobState | undefined {
  switch (action) {
    case "claim":
      return from === "queued" || from === "retrying" ? "running" : undefined;
    case "complete":
      // Agents complete agent-managed jobs directly, claimed or not.
      return isTerminal(from) ? undefined : "succeeded";
    case "fail":
      if (from === "running") return attemptsLeft ? "retrying" : "failed";
      return isTerminal(from) ? undefined : "failed";
    case "timeout":
      if (from !== "running") return undefined;
      return attemptsLeft ? "retrying" : "timed_out";
    case "crash":
      // The owner vanished (lease expired, process gone): a failed attempt.
      if (from !== "running") return undefined;
      return attemptsLeft ? "retrying" : "failed";
    case "release":
      // Give a claimed job back without spending the attempt.
      return from === "running" ? "queued" : undefined;
    case "cancel":
      return isTerminal(from) ? undefined : "cancelled";
    case "skip":
      return isTerminal(from) && from !== "failed" && from !== "timed_out" && from !== "cancelled"
        ? undefined
        : "skipped";
    case "redrive":
      return from === "failed" || from === "timed_out" || from === "cancelled" ? "queued" : undefined;
    case "retry":
      // One more attempt of a finished job, whatever its outcome (e.g. `baton retry` of a command).
      return isTerminal(from) ? "queued" : undefined;
    case "unblock":
      return from === "waiting" ? "queued" : undefined;
    case "block":
      return from === "queued" ? "waiting" : undefined;
    default:
      return assertNever(action);
  }
}

/** Compile-time exhaustiveness guard for `switch` statements. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
