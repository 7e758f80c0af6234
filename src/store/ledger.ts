/**
 * The ledger's write logic, written once for every SQL dialect.
 *
 * A dialect supplies a transaction runner and a handful of row-level primitives ({@link LedgerTx});
 * this class decides what each operation does with them (state transitions from `core`, attempt
 * bookkeeping, events, dependency release). SQLite's primitives are synchronous and return plain
 * values; PostgreSQL's return promises. `await` treats both alike.
 */
import type { Clock } from "../core/clock.js";
import {
  BatonError,
  DependenciesUnfinishedError,
  HasDependentsError,
  InvalidTransitionError,
  JobNotFoundError,
  LeaseLostError,
} from "../core/errors.js";
import {
  currentRequest,
  decodeRecorded,
  encodeRecorded,
  refuseOtherCall,
  REQUEST_RETENTION_MS,
} from "../core/request.js";
import {
  kindOfType,
  keySharedBetween,
  mayHoldKey,
  SCHEDULE_KEY_PREFIX,
  shownType,
} from "../core/executors.js";
import { newToken } from "../core/ids.js";
import type { Attempt, AttemptOutcome, ClaimedJob, Job, JobEvent } from "../core/job.js";
import { backoffDelay } from "../core/job.js";
import type { JobAction, JobState } from "../core/states.js";
import { assertNever, isSatisfied, isTerminal, nextState } from "../core/states.js";
import { newJobRecord, publicJob } from "./records.js";
import type {
  BatchOp,
  BatchResult,
  BlockingFacts,
  ClaimRequest,
  DependentsPolicy,
  EnqueueOutcome,
  EventFilter,
  FinishOutcome,
  FinishRequest,
  JobFilter,
  JobRecord,
  LockClaim,
  LockInfo,
  MigrationResult,
  NewJob,
  Page,
  Pause,
  PauseScope,
  ScheduleRecord,
  ScheduleSpec,
  StateCount,
  TransitionCount,
  WorkflowCount,
  Store,
} from "./types.js";

export type Awaitable<T> = T | Promise<T>;

export interface AttemptRow extends Attempt {
  token: string;
}

/**
 * What a write transaction holds. `record`: anything a caller relies on after a power cut
 * (enqueues, outcomes, evidence, administration). `lease`: only claims and lease renewals, whose
 * loss in a power cut just hands the job out again, as at-least-once delivery allows.
 */
export type WriteKind = "record" | "lease";

/** Row-level primitives a dialect provides inside a write transaction. */
export interface LedgerTx {
  /**
   * Run `fn` inside a savepoint of the current transaction: when it throws, its changes are rolled
   * back and the error rethrown, and the transaction goes on (one item of a batch fails alone).
   */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
  /** The job, locked for update where the dialect has row locks. */
  getJob(id: string): Awaitable<JobRecord | undefined>;
  /** The live job with this key, if any. */
  findLiveByKey(idempotencyKey: string): Awaitable<JobRecord | undefined>;
  /** The newest job with this key in any state (finished ones until cleaned or deleted). */
  findNewestByKey(idempotencyKey: string): Awaitable<JobRecord | undefined>;
  /**
   * Insert a new job; `payloadText` is its payload as JSON text. The job's `enqueued` event (by
   * `actor`, into `job.state`) is derived from its row, not stored: the row takes the event's id
   * (D152).
   */
  insertJob(job: JobRecord, payloadText: string, actor: string): Awaitable<void>;
  updateJob(id: string, patch: Partial<JobRecord>): Awaitable<void>;
  /** Delete the job row; its derived `enqueued` event is stored first, so its history keeps it. */
  deleteJob(id: string): Awaitable<void>;
  /**
   * Record a new attempt, numbered after the job's earlier attempts (max n + 1), and return that
   * number. `attempt.n` is ignored: the job's attempt count goes down again on release and redrive,
   * so it cannot key the row; the row number is unique for the job's whole life (run dirs use it).
   */
  insertAttempt(attempt: AttemptRow): Awaitable<number>;
  /** The number the job's next attempt gets ({@link insertAttempt}: max n + 1). */
  nextAttempt(jobId: string): Awaitable<number>;
  /**
   * End the job's open attempt (a job has at most one: the running one) and return its number
   * (undefined when none was open). `n` is informational.
   */
  endAttempt(
    jobId: string,
    n: number,
    end: Pick<Attempt, "endedAt" | "outcome" | "exitCode" | "error">,
  ): Awaitable<number | undefined>;
  insertEvent(event: Omit<JobEvent, "id">): Awaitable<void>;
  /** States of the given jobs (missing ids are absent from the answer). */
  jobStates(ids: readonly string[]): Awaitable<{ id: string; state: JobState }[]>;
  /** Waiting jobs that list `jobId` among their dependencies. */
  waitingDependents(jobId: string): Awaitable<JobRecord[]>;
  /** Drop `dependsOn` from the job's dependencies (its `depends_on` list is updated by the caller). */
  dropDependency(jobId: string, dependsOn: string): Awaitable<void>;
  /** Ids of finished jobs `cleanFinished` would delete that waiting jobs still depend on. */
  finishedWithWaitingDependents(finishedBefore: number, states: readonly JobState[]): Awaitable<string[]>;
  /** Claimable, due, unpaused jobs whose resource is free, in claim order, locked for update. */
  candidates(request: ClaimRequest, now: number, limit: number): Awaitable<JobRecord[]>;
  /** Running jobs whose lease expired before `now`. */
  expiredLeases(now: number, limit: number): Awaitable<JobRecord[]>;
  /** Live jobs of a workflow created before `beforeId`. */
  liveWorkflowJobsBefore(project: string | null, workflow: string, beforeId: string): Awaitable<JobRecord[]>;
  setPause(scope: PauseScope, target: string, paused: boolean, now: number): Awaitable<boolean>;
  getLock(name: string): Awaitable<LockInfo | undefined>;
  /** Every lock whose name starts with `prefix`. */
  listLocks(prefix: string): Awaitable<LockInfo[]>;
  putLock(lock: LockInfo): Awaitable<void>;
  deleteLock(name: string): Awaitable<void>;
  /** A task schedule, locked for update where the dialect has row locks. */
  getSchedule(key: string): Awaitable<ScheduleRecord | undefined>;
  putSchedule(schedule: ScheduleRecord): Awaitable<void>;
  deleteSchedule(key: string): Awaitable<boolean>;
  listSchedules(): Awaitable<ScheduleRecord[]>;
  /** Delete finished jobs, except those that waiting jobs depend on. */
  cleanFinished(finishedBefore: number, states: readonly JobState[]): Awaitable<number>;
  /**
   * The recorded write `seq` of a request, if it committed. PostgreSQL first takes a transaction
   * lock on the request id, so two calls with one id run their writes one after the other.
   */
  getRequestWrite(requestId: string, seq: number): Awaitable<{ op: string; result: string } | undefined>;
  putRequestWrite(row: RequestWriteRow): Awaitable<void>;
  /** Forget requests recorded before `before` (the retention window). */
  pruneRequests(before: number): Awaitable<void>;
}

/** One write of a request, as recorded in the same transaction as the write. */
export interface RequestWriteRow {
  requestId: string;
  seq: number;
  op: string;
  /** The write's answer ({@link encodeRecorded}). */
  result: string;
  createdAt: number;
}

const FINISH_ACTION: Record<FinishOutcome, JobAction> = {
  succeeded: "complete",
  failed: "fail",
  timed_out: "timeout",
  crashed: "crash",
  cancelled: "cancel",
  released: "release",
  skipped: "skip",
};

function eventKind(from: JobState, to: JobState, action: JobAction): string {
  switch (action) {
    case "complete":
      return "completed";
    case "fail":
    case "crash":
      return to === "retrying"
        ? "retry_scheduled"
        : to === "failed" && from === "running"
          ? "dead_lettered"
          : "failed";
    case "timeout":
      return to === "retrying" ? "timed_out_retry_scheduled" : "timed_out";
    case "release":
      return "released";
    case "cancel":
      return "cancelled";
    case "skip":
      return "skipped";
    case "redrive":
      return "redriven";
    case "retry":
      return "retried";
    case "unblock":
      return "unblocked";
    case "block":
      return "blocked";
    case "claim":
      return "claimed";
    default:
      return assertNever(action);
  }
}

function attemptOutcome(action: JobAction): AttemptOutcome {
  switch (action) {
    case "complete":
      return "succeeded";
    case "fail":
      return "failed";
    case "timeout":
      return "timed_out";
    case "crash":
      return "crashed";
    case "release":
      return "released";
    case "cancel":
    case "skip":
    case "redrive":
    case "retry":
    case "unblock":
    case "block":
    case "claim":
      return "cancelled";
    default:
      return assertNever(action);
  }
}

/**
 * A {@link Store} whose write operations are implemented here over {@link LedgerTx} primitives.
 * Dialects extend it with their transaction runner and read queries.
 */
export abstract class LedgerStore implements Store {
  abstract readonly kind: "sqlite" | "postgres";
  abstract readonly location: string;
  abstract readonly ledger: string;
  protected readonly clock: Clock;
  protected readonly random: () => number;

  constructor(clock: Clock, random: () => number = Math.random) {
    this.clock = clock;
    this.random = random;
  }

  /**
   * Run `fn` in one write transaction (SQLite: BEGIN IMMEDIATE), retrying transient lock errors.
   * `lease` marks a transaction that only hands out or extends leases (claims, heartbeats, and
   * what claiming recovers): it need not wait for the disk (D32). Every other write must.
   */
  protected abstract write<T>(fn: (tx: LedgerTx) => Promise<T>, kind?: WriteKind): Promise<T>;

  /**
   * `fn` as one write of the current request, if the call is part of one: its number in the
   * request is taken now, in call order; in the transaction, a write the request already committed
   * answers what it answered then (and does nothing), and a new one is recorded with its answer in
   * the same transaction. Dialects wrap every write transaction with this; outside a request it is
   * `fn` itself.
   */
  protected recorded<T>(fn: (tx: LedgerTx) => Promise<T>): (tx: LedgerTx) => Promise<T> {
    const request = currentRequest();
    if (request === undefined) return fn;
    const seq = ++request.seq;
    return async (tx) => {
      const done = await tx.getRequestWrite(request.id, seq);
      if (done !== undefined) {
        refuseOtherCall(request, done.op);
        request.replayed = true;
        return decodeRecorded<T>(done.result);
      }
      const now = this.clock.now();
      if (seq === 1) {
        // The id bound by a call that wrote nothing (D157): another call under it is refused.
        const bound = await tx.getRequestWrite(request.id, 0);
        if (bound !== undefined) refuseOtherCall(request, bound.op);
        await tx.pruneRequests(now - REQUEST_RETENTION_MS);
      }
      const result = await fn(tx);
      await tx.putRequestWrite({
        requestId: request.id,
        seq,
        op: request.op,
        result: encodeRecorded(result),
        createdAt: now,
      });
      request.wrote = true;
      return result;
    };
  }

  abstract migrate(): Promise<MigrationResult>;
  abstract schemaVersion(): Promise<number>;
  abstract close(): Promise<void>;
  abstract getJob(id: string): Promise<Job | undefined>;
  abstract findJobs(reference: string, limit: number, project?: string): Promise<Job[]>;
  abstract listJobs(filter: JobFilter, page: Page): Promise<Job[]>;
  abstract countJobs(filter: JobFilter): Promise<number>;
  abstract countByState(filter: JobFilter): Promise<StateCount[]>;
  abstract workflowCounts(filter: JobFilter): Promise<WorkflowCount[]>;
  abstract transitionCounts(since: number): Promise<TransitionCount[]>;
  abstract attempts(jobId: string): Promise<Attempt[]>;
  abstract latestAttempts(jobIds: readonly string[]): Promise<Attempt[]>;
  abstract events(filter: EventFilter): Promise<JobEvent[]>;
  abstract blockingFacts(jobId: string): Promise<BlockingFacts>;
  abstract nextRunAt(): Promise<number | null>;
  abstract pauses(): Promise<Pause[]>;
  abstract requestCall(requestId: string): Promise<{ op: string; seq: number; result: string } | undefined>;

  bindRequest(requestId: string, op: string, answer: unknown): Promise<string | undefined> {
    return this.write(async (tx) => {
      const taken = (await tx.getRequestWrite(requestId, 0)) ?? (await tx.getRequestWrite(requestId, 1));
      if (taken !== undefined) return taken.op;
      const now = this.clock.now();
      await tx.pruneRequests(now - REQUEST_RETENTION_MS);
      await tx.putRequestWrite({ requestId, seq: 0, op, result: encodeRecorded(answer), createdAt: now });
      return undefined;
    });
  }

  // ------------------------------------------------------------------------------------------

  insertJobs(jobs: readonly NewJob[], actor: string): Promise<EnqueueOutcome[]> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      const out: EnqueueOutcome[] = [];
      for (const spec of jobs) out.push(await this.insertInTx(tx, spec, actor, now));
      return out;
    });
  }

  insertWithLock(job: NewJob, actor: string, lock: LockClaim): Promise<EnqueueOutcome> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      await this.checkLockInTx(tx, lock, now);
      const outcome = await this.insertInTx(tx, job, actor, now);
      if (!outcome.deduplicated) await this.putClaimedLock(tx, lock, now);
      return outcome;
    });
  }

  /** Throw `lock.held` when a live holder other than the one judged stale has the lock. */
  private async checkLockInTx(tx: LedgerTx, lock: LockClaim, now: number): Promise<void> {
    const current = await tx.getLock(lock.name);
    if (current !== undefined && current.expiresAt > now && current.token !== lock.staleToken)
      throw lock.held(current);
  }

  private async putClaimedLock(tx: LedgerTx, lock: LockClaim, now: number): Promise<void> {
    await tx.putLock({
      name: lock.name,
      owner: lock.owner,
      token: newToken(),
      acquiredAt: now,
      expiresAt: now + lock.ttlMs,
    });
  }

  private async insertInTx(tx: LedgerTx, spec: NewJob, actor: string, now: number): Promise<EnqueueOutcome> {
    if (spec.idempotencyKey !== null) {
      if (!mayHoldKey(spec.type, spec.idempotencyKey))
        throw new BatonError(
          "KEY_CONFLICT",
          `idempotency key '${shownType(spec.idempotencyKey)}' is reserved: keys starting with '${SCHEDULE_KEY_PREFIX}' ` +
            `name a schedule's slot, and only its configured-task run takes one; use another key`,
          { details: { key: spec.idempotencyKey, type: spec.type, reserved: SCHEDULE_KEY_PREFIX } },
        );
      // A live job wins over a finished one (rows from before D52 may hold both).
      const existing =
        (await tx.findLiveByKey(spec.idempotencyKey)) ??
        (spec.idempotencyScope === "while-live" ? undefined : await tx.findNewestByKey(spec.idempotencyKey));
      if (existing !== undefined) {
        if (!keySharedBetween(existing.type, spec.type)) throw keyConflict(spec, existing);
        return { job: publicJob(existing), deduplicated: true };
      }
    }
    let state: JobState = "queued";
    if (spec.dependsOn.length > 0) {
      const deps = await tx.jobStates(spec.dependsOn);
      const missing = spec.dependsOn.filter((id) => !deps.some((d) => d.id === id));
      if (missing.length > 0) {
        throw new BatonError(
          "DEPENDENCY_NOT_FOUND",
          `dependsOn names unknown job(s): ${missing.join(", ")}`,
          {
            details: { missing },
          },
        );
      }
      if (!deps.every((d) => isSatisfied(d.state))) state = "waiting";
    }
    const record = newJobRecord(spec, state, now);
    await tx.insertJob(record, spec.payload, actor);
    return { job: publicJob(record), deduplicated: false };
  }

  claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    return this.write((tx) => this.claimInTx(tx, request), "lease");
  }

  heartbeat(jobId: string, token: string, leaseMs: number): Promise<{ leaseExpiresAt: number }> {
    return this.write((tx) => this.heartbeatInTx(tx, jobId, token, leaseMs), "lease");
  }

  finish(request: FinishRequest): Promise<Job> {
    return this.write((tx) => this.finishInTx(tx, request));
  }

  /**
   * Several claims, heartbeats and finishes in ONE write transaction (one commit, one fsync), in
   * order. Each runs in its own savepoint with its own checks (fencing token, state): one that
   * fails with a BatonError is rolled back and reported in its slot, the others still commit.
   * Any other error (the store itself failing) fails the whole batch, which commits nothing.
   */
  batch(ops: readonly BatchOp[]): Promise<BatchResult[]> {
    return this.write(
      (tx) => this.batchInTx(tx, ops),
      ops.every((op) => op.kind !== "finish") ? "lease" : "record",
    );
  }

  /**
   * The body of {@link batch} in a transaction the caller opened. `settled` holds the slots a
   * store has already done in the same transaction by its own means (PostgreSQL completes many
   * jobs in one statement); every other op runs here, in order, in its savepoint.
   */
  protected async batchInTx(
    tx: LedgerTx,
    ops: readonly BatchOp[],
    settled: ReadonlyMap<number, BatchResult> = new Map(),
  ): Promise<BatchResult[]> {
    const out: BatchResult[] = [];
    for (const [i, op] of ops.entries()) {
      const done = settled.get(i);
      if (done !== undefined) {
        out.push(done);
        continue;
      }
      try {
        out.push(await tx.savepoint(() => this.opInTx(tx, op)));
      } catch (error) {
        if (!(error instanceof BatonError)) throw error;
        out.push({ kind: op.kind, ok: false, error });
      }
    }
    return out;
  }

  private async opInTx(tx: LedgerTx, op: BatchOp): Promise<BatchResult> {
    switch (op.kind) {
      case "claim":
        return { kind: "claim", ok: true, claimed: await this.claimInTx(tx, op.request) };
      case "heartbeat":
        return {
          kind: "heartbeat",
          ok: true,
          ...(await this.heartbeatInTx(tx, op.jobId, op.token, op.leaseMs)),
        };
      case "finish":
        return { kind: "finish", ok: true, job: await this.finishInTx(tx, op.request) };
      default:
        return assertNever(op);
    }
  }

  private async claimInTx(tx: LedgerTx, request: ClaimRequest): Promise<ClaimedJob[]> {
    const now = this.clock.now();
    await this.recoverInTx(tx, now, 100);
    const rows = await tx.candidates(request, now, request.limit);
    const claimed: ClaimedJob[] = [];
    const takenResources = new Set<string>();
    for (const row of rows) {
      if (row.resourceKey !== null) {
        if (takenResources.has(row.resourceKey)) continue;
        takenResources.add(row.resourceKey);
      }
      const token = newToken();
      const attempt = row.attempts + 1;
      const leaseExpiresAt = now + request.leaseMs;
      const patch: Partial<JobRecord> = {
        state: "running",
        attempts: attempt,
        leaseOwner: request.owner,
        leaseToken: token,
        leaseExpiresAt,
        startedAt: now,
        updatedAt: now,
      };
      await tx.updateJob(row.id, patch);
      const n = await tx.insertAttempt({
        jobId: row.id,
        n: attempt,
        token,
        owner: request.owner,
        startedAt: now,
        endedAt: null,
        outcome: null,
        exitCode: null,
        error: null,
      });
      await tx.insertEvent({
        jobId: row.id,
        workflow: row.workflow,
        project: row.project,
        at: now,
        actor: request.owner,
        kind: "claimed",
        fromState: row.state,
        toState: "running",
        details: { attempt: n },
      });
      claimed.push({ job: publicJob({ ...row, ...patch }), token, attempt: n, leaseExpiresAt });
    }
    return claimed;
  }

  private async heartbeatInTx(
    tx: LedgerTx,
    jobId: string,
    token: string,
    leaseMs: number,
  ): Promise<{ leaseExpiresAt: number }> {
    const job = await tx.getJob(jobId);
    if (job === undefined) throw new JobNotFoundError(jobId);
    if (job.state !== "running") throw new LeaseLostError(jobId, `the job is ${job.state}`);
    if (job.leaseToken !== token) throw new LeaseLostError(jobId, "another attempt owns the job");
    const leaseExpiresAt = this.clock.now() + leaseMs;
    await tx.updateJob(jobId, { leaseExpiresAt });
    return { leaseExpiresAt };
  }

  private async finishInTx(tx: LedgerTx, request: FinishRequest): Promise<Job> {
    const now = this.clock.now();
    const job = await tx.getJob(request.jobId);
    if (job === undefined) throw new JobNotFoundError(request.jobId);
    if (request.force !== true) {
      if (job.state === "running") {
        if (request.token === undefined) {
          throw new LeaseLostError(
            job.id,
            "the job is running under a lease: present the token its claim returned (--token on the command line)",
          );
        }
        if (request.token !== job.leaseToken)
          throw new LeaseLostError(job.id, "another attempt owns the job");
      } else if (request.token !== undefined) {
        throw new LeaseLostError(job.id, `the job is ${job.state}, no longer running under this lease`);
      }
    }
    const action = FINISH_ACTION[request.outcome];
    if (
      job.state === "waiting" &&
      (action === "complete" || action === "fail") &&
      request.overDependencies !== true
    )
      await this.refuseUnfinishedDependencies(tx, job, action);
    const updated = await this.transitionInTx(tx, job, action, now, request.actor, {
      noRetry: request.noRetry === true,
      result: request.result,
      evidence: request.evidence,
      error: request.error,
      exitCode: request.exitCode,
    });
    return publicJob(updated);
  }

  /**
   * A job still waiting on its dependencies did none of its work (it was never claimable), so
   * completing or failing it would report work that never happened while its dependencies may yet
   * run (D139): refused, naming each unfinished dependency and its state, unless the caller passed
   * the explicit override. Skip and cancel stay allowed: they say the work is not needed.
   */
  private async refuseUnfinishedDependencies(
    tx: LedgerTx,
    job: JobRecord,
    action: JobAction,
  ): Promise<never> {
    const known = new Map((await tx.jobStates(job.dependsOn)).map((d) => [d.id, d.state]));
    const unfinished = job.dependsOn.flatMap((id) => {
      const state = known.get(id);
      return state !== undefined && isSatisfied(state) ? [] : [{ id, state: state ?? "missing" }];
    });
    throw new DependenciesUnfinishedError(job.id, action, unfinished);
  }

  redrive(jobId: string, actor: string): Promise<Job> {
    return this.write(async (tx) => {
      const job = await tx.getJob(jobId);
      if (job === undefined) throw new JobNotFoundError(jobId);
      return publicJob(await this.transitionInTx(tx, job, "redrive", this.clock.now(), actor, {}));
    });
  }

  retry(jobId: string, actor: string): Promise<{ job: Job; attempt: number }> {
    return this.write(async (tx) => {
      const job = await tx.getJob(jobId);
      if (job === undefined) throw new JobNotFoundError(jobId);
      // Counted in the transaction, so a repeat of the request replays the number with the job.
      const attempt = await tx.nextAttempt(jobId);
      const retried = publicJob(await this.transitionInTx(tx, job, "retry", this.clock.now(), actor, {}));
      return { job: retried, attempt };
    });
  }

  acquireLock(
    name: string,
    owner: string,
    ttlMs: number,
    canSteal?: (current: LockInfo) => boolean,
  ): Promise<{ acquired: boolean; lock: LockInfo }> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      const current = await tx.getLock(name);
      if (current !== undefined && current.expiresAt > now && canSteal?.(current) !== true) {
        return { acquired: false, lock: current };
      }
      const lock: LockInfo = { name, owner, token: newToken(), acquiredAt: now, expiresAt: now + ttlMs };
      await tx.putLock(lock);
      return { acquired: true, lock };
    });
  }

  renewLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    return this.write(async (tx) => {
      const current = await tx.getLock(name);
      if (current === undefined || current.token !== token) return false;
      await tx.putLock({ ...current, expiresAt: this.clock.now() + ttlMs });
      return true;
    });
  }

  releaseLock(name: string, token: string): Promise<boolean> {
    return this.write(async (tx) => {
      const current = await tx.getLock(name);
      if (current === undefined || current.token !== token) return false;
      await tx.deleteLock(name);
      return true;
    });
  }

  /**
   * Live locks whose name starts with `prefix`; expired ones are deleted on the way (a holder that
   * stopped renewing is gone: e.g. a silent agent is reaped from the registry).
   */
  listLocks(prefix: string): Promise<LockInfo[]> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      const live: LockInfo[] = [];
      for (const lock of await tx.listLocks(prefix)) {
        if (lock.expiresAt > now) live.push(lock);
        else await tx.deleteLock(lock.name);
      }
      return live;
    });
  }

  getLock(name: string): Promise<LockInfo | undefined> {
    return this.write(async (tx) => tx.getLock(name));
  }

  registerSchedule(spec: ScheduleSpec, options: { off?: boolean } = {}): Promise<ScheduleRecord> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      const current = await tx.getSchedule(spec.key);
      if (current === undefined) {
        const created: ScheduleRecord = {
          ...spec,
          lastSlot: now,
          lastFiredAt: null,
          disabledAt: options.off === true ? now : null,
          createdAt: now,
          updatedAt: now,
        };
        await tx.putSchedule(created);
        return created;
      }
      if (
        current.cron === spec.cron &&
        current.configPath === spec.configPath &&
        current.task === spec.task
      ) {
        return current;
      }
      // A new expression counts from now: its earlier slots were never promised.
      const changed: ScheduleRecord = {
        ...current,
        ...spec,
        lastSlot: current.cron === spec.cron ? current.lastSlot : Math.max(current.lastSlot, now),
        updatedAt: now,
      };
      await tx.putSchedule(changed);
      return changed;
    });
  }

  unregisterSchedule(key: string): Promise<boolean> {
    return this.write(async (tx) => tx.deleteSchedule(key));
  }

  setScheduleDisabled(
    key: string,
    disabled: boolean,
    actor: string,
  ): Promise<{ schedule: ScheduleRecord; changed: boolean } | undefined> {
    return this.write(async (tx) => {
      const current = await tx.getSchedule(key);
      if (current === undefined) return undefined;
      if ((current.disabledAt !== null) === disabled) return { schedule: current, changed: false };
      const now = this.clock.now();
      // Switched on, it counts from now: the slots that passed while it was off are not "missed".
      const schedule = {
        ...current,
        disabledAt: disabled ? now : null,
        lastSlot: disabled ? current.lastSlot : Math.max(current.lastSlot, now),
        updatedAt: now,
      };
      await tx.putSchedule(schedule);
      await tx.insertEvent({
        jobId: null,
        workflow: null,
        project: null,
        at: now,
        actor,
        kind: disabled ? "schedule_disabled" : "schedule_enabled",
        fromState: null,
        toState: null,
        details: { task: current.task, config: current.configPath, key },
      });
      return { schedule, changed: true };
    });
  }

  schedules(): Promise<ScheduleRecord[]> {
    return this.write(async (tx) => tx.listSchedules());
  }

  fireSchedule(
    key: string,
    expectedLastSlot: number,
    slot: number,
    job: NewJob,
    actor: string,
    lock?: LockClaim,
  ): Promise<EnqueueOutcome | undefined> {
    return this.write(async (tx) => {
      const current = await tx.getSchedule(key);
      if (current === undefined || current.lastSlot !== expectedLastSlot || slot <= current.lastSlot)
        return undefined;
      const now = this.clock.now();
      if (lock !== undefined) await this.checkLockInTx(tx, lock, now);
      await tx.putSchedule({ ...current, lastSlot: slot, lastFiredAt: now, updatedAt: now });
      const outcome = await this.insertInTx(tx, job, actor, now);
      if (lock !== undefined && !outcome.deduplicated) await this.putClaimedLock(tx, lock, now);
      return outcome;
    });
  }

  advanceSchedule(key: string, expectedLastSlot: number, slot: number, fired: boolean): Promise<boolean> {
    return this.write(async (tx) => {
      const current = await tx.getSchedule(key);
      if (current === undefined || current.lastSlot !== expectedLastSlot || slot <= current.lastSlot)
        return false;
      const now = this.clock.now();
      await tx.putSchedule({
        ...current,
        lastSlot: slot,
        lastFiredAt: fired ? now : current.lastFiredAt,
        updatedAt: now,
      });
      return true;
    });
  }

  acceptBefore(jobId: string, actor: string): Promise<Job[]> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      const job = await tx.getJob(jobId);
      if (job === undefined) throw new JobNotFoundError(jobId);
      if (job.workflow === null) {
        throw new BatonError("INVALID_INPUT", `job ${jobId} belongs to no workflow: nothing comes before it`);
      }
      const earlier = await tx.liveWorkflowJobsBefore(job.project, job.workflow, job.id);
      const accepted: Job[] = [];
      for (const row of earlier) {
        const done = await this.transitionInTx(tx, row, "complete", now, actor, {
          result: JSON.stringify({ accepted: true, before: jobId }),
          eventKind: "accepted",
        });
        accepted.push(publicJob(done));
      }
      return accepted;
    });
  }

  archive(jobIds: readonly string[], actor: string): Promise<number> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      let count = 0;
      for (const id of jobIds) {
        let job = await tx.getJob(id);
        if (job === undefined) throw new JobNotFoundError(id);
        if (job.archivedAt !== null) continue;
        if (!isTerminal(job.state)) job = await this.transitionInTx(tx, job, "cancel", now, actor, {});
        await tx.updateJob(id, { archivedAt: now, updatedAt: now });
        await tx.insertEvent(this.event(job, now, actor, "archived", job.state, job.state, null));
        count++;
      }
      return count;
    });
  }

  unarchive(jobIds: readonly string[], actor: string): Promise<number> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      let count = 0;
      for (const id of jobIds) {
        const job = await tx.getJob(id);
        if (job === undefined) throw new JobNotFoundError(id);
        if (job.archivedAt === null) continue;
        await tx.updateJob(id, { archivedAt: null, updatedAt: now });
        await tx.insertEvent(this.event(job, now, actor, "unarchived", job.state, job.state, null));
        count++;
      }
      return count;
    });
  }

  deleteJobs(jobIds: readonly string[], actor: string, dependents?: DependentsPolicy): Promise<number> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      let count = 0;
      const deleting = new Set(jobIds);
      for (const id of jobIds) {
        const job = await tx.getJob(id);
        if (job === undefined) throw new JobNotFoundError(id);
        if (job.state === "running") throw new InvalidTransitionError(id, job.state, "delete");
        const waiting = (await tx.waitingDependents(id)).filter((d) => !deleting.has(d.id));
        if (waiting.length > 0) {
          if (dependents === undefined)
            throw new HasDependentsError(
              id,
              "delete",
              waiting.map((d) => d.id),
            );
          await this.settleDependents(tx, id, waiting, dependents, now, actor);
        }
        await tx.deleteJob(id);
        await tx.insertEvent(this.event(job, now, actor, "deleted", job.state, null, { type: job.type }));
        count++;
      }
      return count;
    });
  }

  recoverExpired(limit: number): Promise<Job[]> {
    return this.write((tx) => this.recoverInTx(tx, this.clock.now(), limit));
  }

  addEvent(event: Omit<JobEvent, "id" | "at">, options: { whileState?: JobState } = {}): Promise<boolean> {
    return this.write(async (tx) => {
      if (options.whileState !== undefined) {
        const job = event.jobId === null ? undefined : await tx.getJob(event.jobId);
        if (job?.state !== options.whileState) return false;
      }
      await tx.insertEvent({ ...event, at: this.clock.now() });
      return true;
    });
  }

  setPause(scope: PauseScope, target: string, paused: boolean, actor: string): Promise<boolean> {
    return this.write(async (tx) => {
      const now = this.clock.now();
      const changed = await tx.setPause(scope, target, paused, now);
      if (changed) {
        await tx.insertEvent({
          jobId: null,
          workflow: scope === "workflow" ? target : null,
          project: null,
          at: now,
          actor,
          kind: paused ? "paused" : "unpaused",
          fromState: null,
          toState: null,
          details: { scope, target },
        });
      }
      return changed;
    });
  }

  clean(
    filter: { finishedBefore: number; states: readonly JobState[] },
    actor: string,
    dependents?: DependentsPolicy,
  ): Promise<number> {
    const states = filter.states.filter(isTerminal);
    return this.write(async (tx) => {
      if (dependents !== undefined) {
        const now = this.clock.now();
        for (const id of await tx.finishedWithWaitingDependents(filter.finishedBefore, states))
          await this.settleDependents(tx, id, await tx.waitingDependents(id), dependents, now, actor);
      }
      const count = await tx.cleanFinished(filter.finishedBefore, states);
      if (count > 0) {
        await tx.insertEvent({
          jobId: null,
          workflow: null,
          project: null,
          at: this.clock.now(),
          actor,
          kind: "cleaned",
          fromState: null,
          toState: null,
          details: { count, finishedBefore: filter.finishedBefore, states },
        });
      }
      return count;
    });
  }

  // ------------------------------------------------------------------------------------------

  private async recoverInTx(tx: LedgerTx, now: number, limit: number): Promise<Job[]> {
    const expired = await tx.expiredLeases(now, limit);
    const out: Job[] = [];
    for (const job of expired) {
      const updated = await this.transitionInTx(tx, job, "crash", now, "baton:recovery", {
        error: `lease expired (owner ${job.leaseOwner ?? "unknown"} stopped heartbeating)`,
      });
      out.push(publicJob(updated));
    }
    return out;
  }

  /** Apply one action to a locked job row: state, attempt, event, dependents. */
  private async transitionInTx(
    tx: LedgerTx,
    job: JobRecord,
    action: JobAction,
    now: number,
    actor: string,
    extra: {
      noRetry?: boolean;
      result?: string | undefined;
      evidence?: string | undefined;
      error?: string | undefined;
      exitCode?: number | undefined;
      eventKind?: string;
    },
  ): Promise<JobRecord> {
    const attemptsLeft = extra.noRetry !== true && job.attempts < job.maxAttempts;
    const to = nextState(job.state, action, attemptsLeft);
    if (to === undefined) throw new InvalidTransitionError(job.id, job.state, action);

    const patch: Partial<JobRecord> = { state: to, updatedAt: now };
    const wasRunning = job.state === "running";
    if (wasRunning) {
      patch.leaseOwner = null;
      patch.leaseToken = null;
      patch.leaseExpiresAt = null;
    }
    if (to === "retrying") patch.runAt = now + backoffDelay(job.backoff, job.attempts, this.random);
    if (action === "release") patch.attempts = Math.max(0, job.attempts - 1);
    if (action === "redrive" || action === "retry") {
      patch.runAt = now;
      patch.error = null;
      patch.finishedAt = null;
      patch.result = null;
      // redrive: a fresh attempt budget; retry: one more attempt at least (a claim does not look
      // at the budget, a failure past it dead-letters). max_attempts is the job's own setting and
      // stays as it was.
      if (action === "redrive") patch.attempts = 0;
    }
    if (isTerminal(to)) patch.finishedAt = now;
    if (extra.result !== undefined) patch.result = JSON.parse(extra.result) as unknown;
    if (extra.evidence !== undefined) patch.evidence = JSON.parse(extra.evidence) as unknown;
    // A release gives the claim back: its error stays on the attempt and the event, not on the job
    // (a later attempt that succeeds would show it, D153).
    if (extra.error !== undefined && action !== "release") patch.error = extra.error;
    await tx.updateJob(job.id, patch);

    let ended: number | undefined;
    if (wasRunning) {
      ended = await tx.endAttempt(job.id, job.attempts, {
        endedAt: now,
        outcome: attemptOutcome(action),
        exitCode: extra.exitCode ?? null,
        error: extra.error ?? null,
      });
    }
    const details: Record<string, unknown> = {};
    // The attempt's own number (its row's, as the claim event said), not the retry budget spent
    // (`job.attempts`), which a release gives back: after a release the two differ.
    if (wasRunning && (ended !== undefined || job.attempts > 0)) details.attempt = ended ?? job.attempts;
    if (extra.error !== undefined) details.error = extra.error;
    if (extra.exitCode !== undefined) details.exitCode = extra.exitCode;
    if (patch.evidence !== undefined) details.evidence = patch.evidence;
    if (to === "retrying") details.retryAt = patch.runAt;
    await tx.insertEvent(
      this.event(
        job,
        now,
        actor,
        extra.eventKind ?? eventKind(job.state, to, action),
        job.state,
        to,
        Object.keys(details).length > 0 ? details : null,
      ),
    );
    if (isSatisfied(to)) await this.releaseDependents(tx, job.id, now, actor);
    return { ...job, ...patch };
  }

  /**
   * The waiting dependents of `jobId`, which is about to go: cancel them, or drop the dependency
   * and unblock those whose other dependencies are all done.
   */
  private async settleDependents(
    tx: LedgerTx,
    jobId: string,
    waiting: readonly JobRecord[],
    policy: DependentsPolicy,
    now: number,
    actor: string,
  ): Promise<void> {
    for (const dependent of waiting) {
      if (policy === "cancel") {
        await this.transitionInTx(tx, dependent, "cancel", now, actor, {
          error: `its dependency ${jobId} was removed`,
        });
        continue;
      }
      const rest = dependent.dependsOn.filter((d) => d !== jobId);
      await tx.dropDependency(dependent.id, jobId);
      await tx.updateJob(dependent.id, { dependsOn: rest, updatedAt: now });
      await tx.insertEvent(
        this.event(dependent, now, actor, "dependency_released", dependent.state, dependent.state, {
          dependency: jobId,
        }),
      );
      const states = await tx.jobStates(rest);
      if (states.length === rest.length && states.every((d) => isSatisfied(d.state)))
        await this.transitionInTx(tx, { ...dependent, dependsOn: rest }, "unblock", now, actor, {});
    }
  }

  private async releaseDependents(tx: LedgerTx, jobId: string, now: number, actor: string): Promise<void> {
    for (const dependent of await tx.waitingDependents(jobId)) {
      const states = await tx.jobStates(dependent.dependsOn);
      if (states.length === dependent.dependsOn.length && states.every((d) => isSatisfied(d.state))) {
        await this.transitionInTx(tx, dependent, "unblock", now, actor, {});
      }
    }
  }

  private event(
    job: JobRecord,
    at: number,
    actor: string,
    kind: string,
    fromState: JobState | null,
    toState: JobState | null,
    details: Record<string, unknown> | null,
  ): Omit<JobEvent, "id"> {
    return {
      jobId: job.id,
      workflow: job.workflow,
      project: job.project,
      at,
      actor,
      kind,
      fromState,
      toState,
      details,
    };
  }
}

/**
 * The refusal of an enqueue whose idempotency key a job of another kind holds (D137). It names
 * the holder's kind and type (any caller that may enqueue may list jobs and see them) but not its
 * id or state, and it is not answered with that job: a checkpoint must not pass for a command.
 */
function keyConflict(spec: NewJob, held: JobRecord): BatonError {
  const key = spec.idempotencyKey ?? "";
  return new BatonError(
    "KEY_CONFLICT",
    `idempotency key '${shownType(key)}' is held by ${kindOfType(held.type)} ('${shownType(held.type)}'), ` +
      `not ${kindOfType(spec.type)} ('${shownType(spec.type)}'): a key deduplicates only to a job of its own kind; use another key`,
    { details: { key, type: spec.type, heldByType: held.type } },
  );
}
