export type { Glossary } from "./glossary.js";
export {
  JOB_STATES,
  TERMINAL_STATES,
  LIVE_STATES,
  CLAIMABLE_STATES,
  isJobState,
  isTerminal,
  isSatisfied,
  nextState,
  assertNever,
} from "./states.js";
export type { JobState, JobAction } from "./states.js";
export {
  ERROR_CODES,
  BatonError,
  JobNotFoundError,
  LeaseLostError,
  InvalidTransitionError,
  DependenciesUnfinishedError,
  HasDependentsError,
  InvalidInputError,
  SchemaTooNewError,
  isBatonError,
  toBatonError,
} from "./errors.js";
export type { ErrorCode, BatonErrorOptions } from "./errors.js";
export { ulid, isUlid, ULID_PATTERN, newToken } from "./ids.js";
export { systemClock, ManualClock } from "./clock.js";
export type { Clock } from "./clock.js";
export { encodeJson, decodeJson } from "./json.js";
export {
  DEFAULT_BACKOFF,
  IDEMPOTENCY_SCOPES,
  backoffDelay,
  ATTEMPT_OUTCOMES,
  nameSchema,
  jobStateSchema,
  backoffSchema,
  enqueueSpecSchema,
} from "./job.js";
export type {
  BackoffPolicy,
  Job,
  Attempt,
  AttemptOutcome,
  JobEvent,
  ClaimedJob,
  EnqueueSpec,
  IdempotencyScope,
} from "./job.js";
export { findProject } from "./project.js";
export { batonHome, ensurePrivateDir, resolveInside, pathInside } from "./paths.js";
export type { PathCheck } from "./paths.js";
export { parseDuration, parseTimeRef, parseTimerDuration } from "./duration.js";
export {
  after,
  every,
  sleep,
  checkDuration,
  DurationOutOfRangeError,
  MAX_DURATION_MS,
  MAX_NODE_TIMER_MS,
} from "./timer.js";
export type { Timer, TimerOptions } from "./timer.js";
