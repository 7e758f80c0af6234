/**
 * baton's public library API. Explicit named exports only; importing this module opens no
 * database and starts nothing. It loads what a worker needs and no more (the PostgreSQL driver and
 * the operation catalogue load when used): `baton/postgres` exports PostgresStore, `baton/ops` the
 * catalogue (D25).
 */
export { Baton, openBaton } from "./baton.js";
export type { OpenOptions } from "./open.js";
export { defineHandler, UnrecoverableError } from "./worker/handler.js";
export type {
  Handler,
  AnyHandler,
  HandlerContext,
  HandlerOptions,
  HandlerFunction,
} from "./worker/handler.js";
export { Worker } from "./worker/worker.js";
export type { WorkerOptions, WorkerEvents } from "./worker/worker.js";
export { cronSchedule } from "./worker/cron.js";
export type { CronSchedule } from "./worker/cron.js";
export type { JobOptions } from "./worker/enqueue.js";
export { Engine } from "./engine/engine.js";
export type {
  EngineOptions,
  EnqueueContext,
  ClaimOptions,
  FinishOptions,
  Explanation,
} from "./engine/engine.js";
export {
  JOB_STATES,
  TERMINAL_STATES,
  LIVE_STATES,
  isTerminal,
  nextState,
  ERROR_CODES,
  BatonError,
  JobNotFoundError,
  LeaseLostError,
  InvalidTransitionError,
  DependenciesUnfinishedError,
  HasDependentsError,
  InvalidInputError,
  SchemaTooNewError,
  DurationOutOfRangeError,
  MAX_DURATION_MS,
  isBatonError,
  ulid,
  ManualClock,
  systemClock,
  parseDuration,
  DEFAULT_BACKOFF,
  IDEMPOTENCY_SCOPES,
  backoffDelay,
} from "./core/index.js";
export type {
  JobState,
  JobAction,
  ErrorCode,
  Clock,
  Job,
  Attempt,
  AttemptOutcome,
  JobEvent,
  ClaimedJob,
  EnqueueSpec,
  BackoffPolicy,
  IdempotencyScope,
} from "./core/index.js";
export type { Store, EnqueueOutcome, JobFilter, Page } from "./store/types.js";
export { SqliteStore } from "./store/sqlite/sqlite-store.js";
export type { SqliteStoreOptions, Durability } from "./store/sqlite/sqlite-store.js";
export type { PostgresStoreOptions } from "./store/postgres/postgres-store.js";
export type { Operation, OpContext } from "./ops/operation.js";
