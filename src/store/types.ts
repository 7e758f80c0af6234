import type { BatonError } from "../core/errors.js";
import type {
  Attempt,
  AttemptOutcome,
  BackoffPolicy,
  ClaimedJob,
  IdempotencyScope,
  Job,
  JobEvent,
} from "../core/job.js";
import type { JobState } from "../core/states.js";

/** A job as stored: the public {@link Job} plus the secret fencing token of its current attempt. */
export interface JobRecord extends Job {
  leaseToken: string | null;
}

/** A fully resolved job to insert (the engine has applied defaults and validated the input). */
export interface NewJob {
  id: string;
  type: string;
  name: string | null;
  /** The payload as JSON text (validated, size-checked). */
  payload: string;
  /** The same payload as a value, when the caller has it (saves parsing the text back). */
  payloadValue?: unknown;
  priority: number;
  runAt: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  workflow: string | null;
  project: string | null;
  idempotencyKey: string | null;
  /**
   * How long the key binds its job: `until-cleaned` (default) also answers with a finished job,
   * `while-live` only with a live one, so a finished job's key can start new work (D52).
   */
  idempotencyScope?: IdempotencyScope;
  resourceKey: string | null;
  tags: string[];
  dependsOn: string[];
  timeoutMs: number | null;
}

export interface EnqueueOutcome {
  job: Job;
  /**
   * True when an existing job with the same idempotency key was returned instead (live, or
   * finished and not yet cleaned unless the enqueue asked for `while-live`); `job.state` says which.
   */
  deduplicated: boolean;
}

export interface ClaimRequest {
  /** Claim only these types. Omitted: any type not in `excludeTypes`. */
  types?: readonly string[];
  /**
   * Also claim types that start with one of these (`task:` for configured tasks). When `types` or
   * `typePrefixes` is given, only the union of both is claimed.
   */
  typePrefixes?: readonly string[];
  excludeTypes?: readonly string[];
  owner: string;
  leaseMs: number;
  limit: number;
  workflow?: string;
  project?: string;
  /** Skip jobs of these projects (their concurrency limit is reached). */
  excludeProjects?: readonly string[];
  /**
   * Claim a job whose payload names an `affinity` (`host:<name>:<home id>`, `pool:<name>`) only when it is
   * one of these; jobs without one are claimed by anyone. Omitted: no filter.
   */
  affinities?: readonly string[];
}

/** A named lock held in the ledger. */
export interface LockInfo {
  name: string;
  owner: string;
  token: string;
  acquiredAt: number;
  expiresAt: number;
}

/**
 * A named lock taken in the same write transaction as a job's insert (a task's `lock: true`), so a
 * lock never names a run that does not exist yet. The whole transaction is rolled back, and
 * `held(current)` thrown, when a live holder has the lock.
 */
export interface LockClaim {
  name: string;
  owner: string;
  ttlMs: number;
  /** The token of a holder judged gone beforehand (its run finished or died): it may be replaced. */
  staleToken?: string;
  /** The error to throw when another holder has the lock. */
  held: (current: LockInfo) => Error;
}

/**
 * A cron schedule of a configured task, as the ledger keeps it: `lastSlot` is the newest slot
 * already fired or passed over (slots at or before it never fire), so a slot fires at most once.
 */
/** What registers a schedule: its key, the config file and task it comes from, its expression. */
export interface ScheduleSpec {
  key: string;
  configPath: string;
  task: string;
  cron: string;
}

export interface ScheduleRecord {
  /** `<config file>#<task>`. */
  key: string;
  configPath: string;
  task: string;
  cron: string;
  lastSlot: number;
  lastFiredAt: number | null;
  /** When the schedule was switched off (its slots pass unfired); null while it is on. */
  disabledAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** How a caller ends (or gives up) an attempt or a job. */
export type FinishOutcome = AttemptOutcome | "skipped";

export interface FinishRequest {
  jobId: string;
  /** The fencing token of the caller's attempt. Required when the job is running, unless `force`. */
  token?: string;
  outcome: FinishOutcome;
  result?: string;
  evidence?: string;
  error?: string;
  exitCode?: number;
  /** Do not retry even if attempts are left (UnrecoverableError). */
  noRetry?: boolean;
  /** An operator override: finish a running job without its token (e.g. a dashboard action). */
  force?: boolean;
  /**
   * Complete or fail a job still `waiting` on unfinished dependencies (the caller's explicit
   * override); without it that is DEPENDENCIES_UNFINISHED (D139).
   */
  overDependencies?: boolean;
  actor: string;
}

/** One write of a {@link Store.batch}: each keeps its own checks (fencing token, state). */
export type BatchOp =
  | { kind: "claim"; request: ClaimRequest }
  | { kind: "heartbeat"; jobId: string; token: string; leaseMs: number }
  | { kind: "finish"; request: FinishRequest };

/** The answer to one {@link BatchOp}, in its slot: a value, or the BatonError that item alone failed with. */
export type BatchResult =
  | { kind: "claim"; ok: true; claimed: ClaimedJob[] }
  | { kind: "heartbeat"; ok: true; leaseExpiresAt: number }
  | { kind: "finish"; ok: true; job: Job }
  | { kind: BatchOp["kind"]; ok: false; error: BatonError };

export interface JobFilter {
  states?: readonly JobState[];
  types?: readonly string[];
  /** Jobs of this workflow; `null`: jobs that belong to no workflow. */
  workflow?: string | null;
  project?: string;
  tag?: string;
  /** Substring searched in id, name, payload, error and evidence. */
  text?: string;
  includeArchived?: boolean;
  createdAfter?: number;
  createdBefore?: number;
  finishedBefore?: number;
  /** Finished at or after this moment (ms). */
  finishedAfter?: number;
}

export interface Page {
  limit: number;
  /** Opaque cursor from a previous page (the last id seen). */
  after?: string;
  /** newest first (default) or oldest first. */
  order?: "desc" | "asc";
}

export interface EventFilter {
  jobId?: string;
  /** Only events of these jobs (an empty list: none). */
  jobIds?: readonly string[];
  /** Only events of these kinds, e.g. `["settled"]` (an empty list: none). */
  kinds?: readonly string[];
  workflow?: string;
  project?: string;
  types?: readonly string[];
  since?: number;
  until?: number;
  /** Only events with id greater than this (a resume cursor). */
  afterId?: number;
  limit: number;
  /** Oldest first (default) or newest first. */
  order?: "asc" | "desc";
}

export type PauseScope = "all" | "type" | "workflow";

export interface Pause {
  scope: PauseScope;
  target: string;
  createdAt: number;
}

export interface StateCount {
  state: JobState;
  type: string;
  count: number;
}

/** State changes into `state` since a moment (`Store.transitionCounts`). */
export interface TransitionCount {
  state: JobState;
  count: number;
}

/** Jobs of one workflow of one project in one state (`Store.workflowCounts`). */
export interface WorkflowCount {
  project: string | null;
  workflow: string;
  state: JobState;
  count: number;
  /** The latest `updated_at` among them (ms). */
  updatedAt: number;
}

/** Why a job is not running right now, as the store sees it. */
/** What happens to the waiting dependents of a job that is deleted or cleaned. */
export type DependentsPolicy = "cancel" | "release";

export interface BlockingFacts {
  unfinishedDependencies: { id: string; state: JobState }[];
  resourceHolder: { id: string; state: JobState } | null;
  pauses: Pause[];
}

export interface MigrationResult {
  applied: number[];
  version: number;
}

/**
 * The persistence contract. Every method is atomic: it commits entirely or not at all, and every
 * change it makes appends its events in the same transaction. Implementations: SQLite (default)
 * and PostgreSQL. One conformance suite runs against both.
 */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** A human-readable location (file path or redacted URL). */
  readonly location: string;
  /**
   * Which ledger this is among those one BATON_HOME may serve (D134): the SQLite file's path, or the
   * redacted URL and the schema. Run folders are marked with it, so one ledger never sweeps another's.
   */
  readonly ledger: string;

  migrate(): Promise<MigrationResult>;
  schemaVersion(): Promise<number>;
  close(): Promise<void>;

  /** Insert jobs (all or nothing), deduplicating live idempotency keys. */
  insertJobs(jobs: readonly NewJob[], actor: string): Promise<EnqueueOutcome[]>;
  /**
   * Insert one job and take `lock` for it in the same transaction (a deduplicated insert takes no
   * lock). Throws `lock.held(current)`, having written nothing, when a live holder has the lock.
   */
  insertWithLock(job: NewJob, actor: string, lock: LockClaim): Promise<EnqueueOutcome>;
  /** Recover expired leases, then claim up to `limit` due jobs in priority order. */
  claim(request: ClaimRequest): Promise<ClaimedJob[]>;
  /** Extend a lease. Throws LEASE_LOST when the token is not the job's current one. */
  heartbeat(jobId: string, token: string, leaseMs: number): Promise<{ leaseExpiresAt: number }>;
  /** Complete, fail, time out, cancel, release or skip a job. */
  finish(request: FinishRequest): Promise<Job>;
  /**
   * Claims, heartbeats and finishes in one write transaction (a group commit), in order, each in
   * its own savepoint: an item failing with a BatonError (a stale token…) fails alone, in its
   * slot; the rest commit together. Resolves only once that commit is durable. PostgreSQL runs the
   * commonest batch (successes presenting their token, then one claim) as one statement instead
   * (D38), whose claim does not see what its successes release (a freed resource key is claimed
   * by a second statement), and successes alone or a claim alone as one coalesced statement
   * (D36): every slot still holds its own answer, and a claim failing with the store unreachable
   * fails its slot alone.
   */
  batch(ops: readonly BatchOp[]): Promise<BatchResult[]>;
  /** Move failed/timed-out/cancelled jobs back to queued with a fresh attempt budget. */
  redrive(jobId: string, actor: string): Promise<Job>;
  /** Queue a finished job for one more attempt (same payload), whatever its outcome was. */
  retry(jobId: string, actor: string): Promise<{ job: Job; attempt: number }>;
  /** Mark every earlier live job of the job's workflow as succeeded (accepted). */
  acceptBefore(jobId: string, actor: string): Promise<Job[]>;
  /** Archive jobs (live ones are cancelled first). */
  archive(jobIds: readonly string[], actor: string): Promise<number>;
  /** Bring archived jobs back into lists, in the state they were archived in (others: unchanged). */
  unarchive(jobIds: readonly string[], actor: string): Promise<number>;
  /**
   * Delete jobs (not running ones). A job that waiting jobs depend on is refused with
   * `HAS_DEPENDENTS` unless `dependents` says what happens to them: `cancel` them, or `release`
   * the dependency (drop it from their `depends_on`, unblocking them when the rest is done).
   */
  deleteJobs(jobIds: readonly string[], actor: string, dependents?: DependentsPolicy): Promise<number>;
  /** Running jobs whose lease expired become failed attempts (retried or dead-lettered). */
  recoverExpired(limit: number): Promise<Job[]>;
  /**
   * Append a note or a piece of evidence to a job's trail. With `whileState`, only while the job
   * is in that state, read in the same transaction (false: it was not, nothing was written).
   */
  addEvent(event: Omit<JobEvent, "id" | "at">, options?: { whileState?: JobState }): Promise<boolean>;

  getJob(id: string): Promise<Job | undefined>;
  /**
   * Candidates for a reference, newest first, at most `limit` of each kind: jobs whose id starts
   * with it, whose short id (the id's last 6 characters) is its last 6 characters, or whose name
   * equals it (in `project` only, when given). The caller keeps what really matches.
   */
  findJobs(reference: string, limit: number, project?: string): Promise<Job[]>;
  listJobs(filter: JobFilter, page: Page): Promise<Job[]>;
  countJobs(filter: JobFilter): Promise<number>;
  countByState(filter: JobFilter): Promise<StateCount[]>;
  /** Counts per project, workflow and state of the jobs that belong to a workflow. */
  workflowCounts(filter: JobFilter): Promise<WorkflowCount[]>;
  /** How many state changes into each state were recorded at or after `since` (ms), from the events. */
  transitionCounts(since: number): Promise<TransitionCount[]>;
  attempts(jobId: string): Promise<Attempt[]>;
  /** The latest attempt of each of these jobs that has one, in no set order: one read for a list of jobs. */
  latestAttempts(jobIds: readonly string[]): Promise<Attempt[]>;
  events(filter: EventFilter): Promise<JobEvent[]>;
  blockingFacts(jobId: string): Promise<BlockingFacts>;
  /** The earliest run_at among claimable jobs (for sleeping schedulers), or null. */
  nextRunAt(): Promise<number | null>;

  setPause(scope: PauseScope, target: string, paused: boolean, actor: string): Promise<boolean>;
  pauses(): Promise<Pause[]>;
  /**
   * The first recorded write of a request id: the call it was given to
   * (`operation#fingerprint`), the write's number (0: a call that wrote nothing and bound the id,
   * D157) and its answer; undefined when the id has recorded nothing.
   */
  requestCall(requestId: string): Promise<{ op: string; seq: number; result: string } | undefined>;

  /**
   * Bind a request id to a call that wrote nothing (D157): its answer is recorded as the request's
   * write 0, unless the id already has a write: then the call that write names is answered (and
   * nothing written). A repeat then gets this answer back, and another call under the id is
   * refused, as for a call that wrote.
   */
  bindRequest(requestId: string, op: string, answer: unknown): Promise<string | undefined>;

  /**
   * Take the named lock if it is free, expired, or `canSteal(current)` says its holder is gone.
   * Returns the lock (with a fresh token) or the current holder's info with `acquired: false`.
   */
  acquireLock(
    name: string,
    owner: string,
    ttlMs: number,
    canSteal?: (current: LockInfo) => boolean,
  ): Promise<{ acquired: boolean; lock: LockInfo }>;
  /** Extend a lock; false when the token no longer holds it. */
  renewLock(name: string, token: string, ttlMs: number): Promise<boolean>;
  releaseLock(name: string, token: string): Promise<boolean>;
  getLock(name: string): Promise<LockInfo | undefined>;
  /** Live locks whose name starts with `prefix` (expired ones are removed). */
  listLocks(prefix: string): Promise<LockInfo[]>;

  /**
   * Register a task's cron schedule (or update its expression). A new schedule, or one whose
   * expression changed, counts slots from now: earlier slots are not "missed". `off`: a new one
   * starts switched off (the switch then turns it on, as a recorded change).
   */
  registerSchedule(spec: ScheduleSpec, options?: { off?: boolean }): Promise<ScheduleRecord>;
  unregisterSchedule(key: string): Promise<boolean>;
  /**
   * Switch a schedule off (`disabled`) or on, recording a `schedule_disabled`/`schedule_enabled`
   * event when it changes. Switched on, it counts slots from now (the time it was off is never
   * caught up). Undefined when there is no such schedule.
   */
  setScheduleDisabled(
    key: string,
    disabled: boolean,
    actor: string,
  ): Promise<{ schedule: ScheduleRecord; changed: boolean } | undefined>;
  schedules(): Promise<ScheduleRecord[]>;
  /**
   * Move a schedule's last slot from `expectedLastSlot` to `slot` (later), noting a fire when
   * `fired`. Compare-and-set: false when the schedule moved meanwhile (another process fired it).
   */
  advanceSchedule(key: string, expectedLastSlot: number, slot: number, fired: boolean): Promise<boolean>;
  /**
   * A scheduled fire: {@link advanceSchedule} to `slot` and insert `job` in the same transaction,
   * so a slot's run exists exactly when its slot is spent. Undefined when the schedule moved.
   */
  fireSchedule(
    key: string,
    expectedLastSlot: number,
    slot: number,
    job: NewJob,
    actor: string,
    lock?: LockClaim,
  ): Promise<EnqueueOutcome | undefined>;

  /** Delete terminal jobs (and their events and attempts) finished before `finishedBefore`. */
  /**
   * Delete finished jobs. One that waiting jobs depend on is kept, unless `dependents` says what
   * happens to them (as {@link deleteJobs}).
   */
  clean(
    filter: { finishedBefore: number; states: readonly JobState[] },
    actor: string,
    dependents?: DependentsPolicy,
  ): Promise<number>;
}
