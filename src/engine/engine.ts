import type { RequestScope } from "../core/request.js";
import { inRequest } from "../core/request.js";
import { EventEmitter } from "node:events";
import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";
import { BatonError, InvalidInputError, JobNotFoundError, toBatonError } from "../core/errors.js";
import { referenceKeys, SHORT_ID_LENGTH, ulid } from "../core/ids.js";
import type { Attempt, ClaimedJob, EnqueueSpec, Job, JobEvent } from "../core/job.js";
import { DEFAULT_BACKOFF, enqueueSpecSchema } from "../core/job.js";
import { encodeJson } from "../core/json.js";
import { checkDuration } from "../core/timer.js";
import type { JobState } from "../core/states.js";
import { isTerminal, TERMINAL_STATES } from "../core/states.js";
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
  NewJob,
  Page,
  Pause,
  PauseScope,
  StateCount,
  TransitionCount,
  WorkflowCount,
  Store,
} from "../store/types.js";

export interface EngineOptions {
  clock?: Clock;
  /** Largest payload, result or evidence accepted, in bytes of JSON. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Lease length for claims that do not say, in ms. Default 30 s. */
  defaultLeaseMs?: number;
  /** Attempts for jobs that do not say. Default 3. */
  defaultMaxAttempts?: number;
  /** Who is acting, recorded in events ("cli", "mcp", "worker:host:pid"…). */
  actor?: string;
}

export interface EnqueueContext {
  /** Applied when a spec names no project. */
  project?: string;
  actor?: string;
}

export interface ClaimOptions {
  types?: readonly string[];
  /** Also claim types starting with one of these (`task:`); see `ClaimRequest.typePrefixes` in store/types. */
  typePrefixes?: readonly string[];
  excludeTypes?: readonly string[];
  owner: string;
  leaseMs?: number;
  limit?: number;
  workflow?: string;
  project?: string;
  excludeProjects?: readonly string[];
  /** Claim jobs whose payload names an `affinity` only when it is one of these; see `ClaimRequest.affinities`. */
  affinities?: readonly string[];
}

export interface FinishOptions {
  token?: string;
  result?: unknown;
  evidence?: unknown;
  error?: string;
  exitCode?: number;
  noRetry?: boolean;
  /** Finish a running job without its token (an operator override). */
  force?: boolean;
  /**
   * Complete or fail a job still `waiting` on dependencies that have not finished; without it
   * that is refused with DEPENDENCIES_UNFINISHED, naming them (D139).
   */
  overDependencies?: boolean;
  actor?: string;
}

/** Why a job is not running, in words an agent can act on. */
export interface Explanation {
  id: string;
  state: JobState;
  reasons: string[];
  facts: BlockingFacts & { runAt: number; leaseExpiresAt: number | null; leaseOwner: string | null };
}

/** One item of {@link Engine.batch}. */
export type EngineBatchOp =
  | { kind: "claim"; options: ClaimOptions }
  | { kind: "heartbeat"; jobId: string; token: string; leaseMs?: number }
  | { kind: "finish"; jobId: string; outcome: FinishOutcome; options: FinishOptions };

export type EngineEvent = "enqueued" | "changed";

/**
 * The operations on jobs, over any {@link Store}. Validates input, applies defaults and leaves
 * atomicity to the store. Emits `enqueued` and `changed` locally so in-process workers can wake.
 *
 * @example
 * const engine = new Engine(store);
 * const [{ job }] = await engine.enqueue({ type: "edit_file", payload: { path: "a.ts" }, workflow: "docs" });
 * await engine.complete(job.id, { evidence: "added docstrings" });
 */
/** Candidates of each kind a reference is checked against (more than 10 are reported as such). */
const RESOLVE_LIMIT = 11;
/** How far an ambiguous reference's matches are counted. */
const COUNT_LIMIT = 1000;

export class Engine {
  readonly store: Store;
  readonly clock: Clock;
  readonly maxPayloadBytes: number;
  readonly defaultLeaseMs: number;
  readonly defaultMaxAttempts: number;
  readonly actor: string;
  private readonly emitter = new EventEmitter();

  constructor(store: Store, options: EngineOptions = {}) {
    this.store = store;
    this.clock = options.clock ?? systemClock;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
    this.defaultLeaseMs = checkDuration(options.defaultLeaseMs ?? 30_000, "defaultLeaseMs");
    this.defaultMaxAttempts = options.defaultMaxAttempts ?? 3;
    this.actor = options.actor ?? "library";
    this.emitter.setMaxListeners(0);
  }

  /**
   * This engine, with every store call made as part of `request` (R-32): the store records each of
   * the request's write transactions in that transaction, and a repeat of the request answers from
   * them instead of writing again. Events, clock and options are this engine's.
   *
   * @example
   * const scoped = engine.forRequest({ id: "req-1", op: "enqueue_task", seq: 0, replayed: false });
   * await scoped.enqueue({ type: "t" }); // a second call with a fresh scope of "req-1" returns the same job
   */
  forRequest(request: RequestScope): Engine {
    const store = this.store;
    const bound = new Proxy(store, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) =>
          inRequest(request, () => (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const view = Object.create(this) as Engine;
    Object.defineProperty(view, "store", { value: bound });
    return view;
  }

  on(event: EngineEvent, listener: (jobs: readonly Job[]) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  // --- writes ---------------------------------------------------------------------------------

  /** Validate and resolve one spec into a row (throws INVALID_INPUT / PAYLOAD_TOO_LARGE). */
  prepare(input: unknown, context: EnqueueContext = {}): NewJob {
    const parsed = enqueueSpecSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      // Named by the field, as the operations' own schema errors are: a front-end that has a
      // flag for it says the flag instead (the CLI's `--timeout must be more than 0`).
      const where = issue !== undefined && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
      throw new InvalidInputError(`${where}${issue?.message ?? "not a job"}`);
    }
    const spec: EnqueueSpec = parsed.data;
    if (spec.timeoutMs !== undefined) checkDuration(spec.timeoutMs, "timeoutMs");
    if (spec.delayMs !== undefined) checkDuration(spec.delayMs, "delayMs");
    const now = this.clock.now();
    return {
      id: ulid(now),
      type: spec.type,
      name: spec.name ?? null,
      // Only an absent payload defaults to {}: null is a JSON value like any other.
      payload: encodeJson(spec.payload === undefined ? {} : spec.payload, "payload", this.maxPayloadBytes),
      payloadValue: spec.payload === undefined ? {} : spec.payload,
      priority: spec.priority ?? 0,
      runAt: spec.runAt ?? now + (spec.delayMs ?? 0),
      maxAttempts: spec.maxAttempts ?? this.defaultMaxAttempts,
      backoff: { ...DEFAULT_BACKOFF, ...spec.backoff },
      workflow: spec.workflow ?? null,
      project: spec.project ?? context.project ?? null,
      idempotencyKey: spec.idempotencyKey ?? null,
      ...(spec.idempotencyScope === undefined ? {} : { idempotencyScope: spec.idempotencyScope }),
      resourceKey: spec.resourceKey ?? null,
      tags: spec.tags ?? [],
      dependsOn: spec.dependsOn ?? [],
      timeoutMs: spec.timeoutMs ?? null,
    };
  }

  /** Enqueue one job spec, or an array of them atomically. Each answer says whether it was deduplicated. */
  async enqueue(specs: unknown, context: EnqueueContext = {}): Promise<EnqueueOutcome[]> {
    return this.insert(this.prepareAll(specs, context), context);
  }

  /**
   * {@link prepare} one spec or an array of them: the rows {@link insert} takes, each with the id
   * its job will have (a command's environment is saved under it before the job exists, D140).
   */
  prepareAll(specs: unknown, context: EnqueueContext = {}): NewJob[] {
    const list = Array.isArray(specs) ? (specs as readonly unknown[]) : [specs];
    return list.map((spec, index) => {
      try {
        return this.prepare(spec, context);
      } catch (error) {
        if (error instanceof BatonError && list.length > 1) {
          throw new BatonError(error.code, `job ${index + 1} of ${list.length}: ${error.message}`, {
            details: { index },
            cause: error,
          });
        }
        throw error;
      }
    });
  }

  /** Insert prepared rows atomically (see {@link prepareAll}); each answer says whether it was deduplicated. */
  async insert(rows: readonly NewJob[], context: EnqueueContext = {}): Promise<EnqueueOutcome[]> {
    if (rows.length === 0) return [];
    const outcomes = await this.store.insertJobs(rows, context.actor ?? this.actor);
    const fresh = outcomes.filter((o) => !o.deduplicated).map((o) => o.job);
    if (fresh.length > 0) this.emitter.emit("enqueued", fresh);
    return outcomes;
  }

  claim(options: ClaimOptions): Promise<ClaimedJob[]> {
    let request: ClaimRequest;
    try {
      request = this.claimRequest(options);
    } catch (error) {
      return Promise.reject(toBatonError(error));
    }
    return this.store.claim(request);
  }

  private claimRequest(options: ClaimOptions): ClaimRequest {
    return {
      ...(options.types === undefined ? {} : { types: options.types }),
      ...(options.typePrefixes === undefined ? {} : { typePrefixes: options.typePrefixes }),
      ...(options.excludeTypes === undefined ? {} : { excludeTypes: options.excludeTypes }),
      owner: options.owner,
      leaseMs: checkDuration(options.leaseMs ?? this.defaultLeaseMs, "leaseMs"),
      limit: options.limit ?? 1,
      ...(options.workflow === undefined ? {} : { workflow: options.workflow }),
      ...(options.project === undefined ? {} : { project: options.project }),
      ...(options.excludeProjects === undefined ? {} : { excludeProjects: options.excludeProjects }),
      ...(options.affinities === undefined ? {} : { affinities: options.affinities }),
    };
  }

  heartbeat(jobId: string, token: string, leaseMs?: number): Promise<{ leaseExpiresAt: number }> {
    let lease: number;
    try {
      lease = checkDuration(leaseMs ?? this.defaultLeaseMs, "leaseMs");
    } catch (error) {
      return Promise.reject(toBatonError(error));
    }
    return this.store.heartbeat(jobId, token, lease);
  }

  complete(jobId: string, options: FinishOptions = {}): Promise<Job> {
    return this.finish(jobId, "succeeded", options);
  }

  fail(jobId: string, options: FinishOptions = {}): Promise<Job> {
    return this.finish(jobId, "failed", options);
  }

  /** Record a timeout (a distinct outcome from a user stop; retry rules apply). */
  timeout(jobId: string, options: FinishOptions = {}): Promise<Job> {
    return this.finish(jobId, "timed_out", options);
  }

  cancel(jobId: string, options: FinishOptions = {}): Promise<Job> {
    return this.finish(jobId, "cancelled", { force: options.token === undefined, ...options });
  }

  /** Give a claimed job back to the queue without spending the attempt. */
  release(jobId: string, token: string, actor?: string): Promise<Job> {
    return this.finish(jobId, "released", actor === undefined ? { token } : { token, actor });
  }

  /** Mark a job as deliberately not needed (unblocks its dependents). */
  skip(jobId: string, options: FinishOptions = {}): Promise<Job> {
    return this.finish(jobId, "skipped", { force: options.token === undefined, ...options });
  }

  async finish(jobId: string, outcome: FinishOutcome, options: FinishOptions): Promise<Job> {
    const job = await this.store.finish(this.finishRequest(jobId, outcome, options));
    this.emitter.emit("changed", [job]);
    return job;
  }

  /**
   * Claims, heartbeats and finishes in ONE write transaction (a group commit; see
   * {@link Store.batch}). Each item keeps its own checks and fails alone, in its slot (a stale
   * token, a result too large…); the promise rejects only when the store itself fails, and then
   * nothing was committed. Resolves once the commit is durable.
   */
  async batch(ops: readonly EngineBatchOp[]): Promise<BatchResult[]> {
    const results: (BatchResult | undefined)[] = [];
    const storeOps: BatchOp[] = [];
    const slots: number[] = [];
    for (const op of ops) {
      try {
        storeOps.push(this.storeOp(op));
        slots.push(results.length);
        results.push(undefined);
      } catch (error) {
        if (!(error instanceof BatonError)) throw error;
        results.push({ kind: op.kind, ok: false, error });
      }
    }
    const stored = storeOps.length === 0 ? [] : await this.store.batch(storeOps);
    stored.forEach((result, i) => (results[slots[i]!] = result));
    const changed = stored.flatMap((r) => (r.kind === "finish" && r.ok ? [r.job] : []));
    if (changed.length > 0) this.emitter.emit("changed", changed);
    return results as BatchResult[];
  }

  private storeOp(op: EngineBatchOp): BatchOp {
    switch (op.kind) {
      case "claim":
        return { kind: "claim", request: this.claimRequest(op.options) };
      case "heartbeat":
        return {
          kind: "heartbeat",
          jobId: op.jobId,
          token: op.token,
          leaseMs: checkDuration(op.leaseMs ?? this.defaultLeaseMs, "leaseMs"),
        };
      case "finish":
        return { kind: "finish", request: this.finishRequest(op.jobId, op.outcome, op.options) };
      default: {
        const never: never = op;
        return never;
      }
    }
  }

  private finishRequest(jobId: string, outcome: FinishOutcome, options: FinishOptions): FinishRequest {
    const exitCode = options.exitCode;
    if (exitCode !== undefined && !(Number.isInteger(exitCode) && Math.abs(exitCode) <= 2 ** 31 - 1)) {
      // Both stores keep it as a 32-bit integer (PostgreSQL refuses anything wider).
      throw new InvalidInputError(
        `exitCode must be an integer from -2147483647 to 2147483647, got ${exitCode}`,
        {
          exitCode,
        },
      );
    }
    return {
      jobId,
      outcome,
      actor: options.actor ?? this.actor,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.result === undefined
        ? {}
        : { result: encodeJson(options.result, "result", this.maxPayloadBytes) }),
      ...(options.evidence === undefined
        ? {}
        : { evidence: encodeJson(options.evidence, "evidence", this.maxPayloadBytes) }),
      ...(options.error === undefined ? {} : { error: options.error.slice(0, 64 * 1024) }),
      ...(options.exitCode === undefined ? {} : { exitCode: options.exitCode }),
      ...(options.noRetry === undefined ? {} : { noRetry: options.noRetry }),
      ...(options.force === undefined ? {} : { force: options.force }),
      ...(options.overDependencies === undefined ? {} : { overDependencies: options.overDependencies }),
    };
  }

  async redrive(jobId: string, actor?: string): Promise<Job> {
    const job = await this.store.redrive(jobId, actor ?? this.actor);
    this.emitter.emit("enqueued", [job]);
    return job;
  }

  /**
   * One more attempt of a finished job with the same payload (a command's `baton retry`): the job
   * and the number its new attempt will have.
   */
  async retry(jobId: string, actor?: string): Promise<{ job: Job; attempt: number }> {
    const answer = await this.store.retry(jobId, actor ?? this.actor);
    this.emitter.emit("enqueued", [answer.job]);
    return answer;
  }

  acceptBefore(jobId: string, actor?: string): Promise<Job[]> {
    return this.store.acceptBefore(jobId, actor ?? this.actor);
  }

  archive(jobIds: readonly string[], actor?: string): Promise<number> {
    return this.store.archive(jobIds, actor ?? this.actor);
  }

  /** Show archived jobs in lists again; the count of jobs that were archived. */
  unarchive(jobIds: readonly string[], actor?: string): Promise<number> {
    return this.store.unarchive(jobIds, actor ?? this.actor);
  }

  /** Archive every job of a workflow. */
  async archiveWorkflow(workflow: string, project: string | undefined, actor?: string): Promise<number> {
    const ids = await this.allIds({ workflow, ...(project === undefined ? {} : { project }) });
    if (ids.length === 0) throw new BatonError("NOT_FOUND", `workflow '${workflow}' has no jobs to archive`);
    return this.store.archive(ids, actor ?? this.actor);
  }

  /** Delete jobs; see {@link Store.deleteJobs} for `dependents` (refused with HAS_DEPENDENTS without it). */
  delete(jobIds: readonly string[], actor?: string, dependents?: DependentsPolicy): Promise<number> {
    return this.store.deleteJobs(jobIds, actor ?? this.actor, dependents);
  }

  pause(scope: PauseScope, target: string, actor?: string): Promise<boolean> {
    return this.store.setPause(scope, scope === "all" ? "*" : target, true, actor ?? this.actor);
  }

  async unpause(scope: PauseScope, target: string, actor?: string): Promise<boolean> {
    const changed = await this.store.setPause(
      scope,
      scope === "all" ? "*" : target,
      false,
      actor ?? this.actor,
    );
    if (changed) this.emitter.emit("enqueued", []);
    return changed;
  }

  recover(limit = 1000): Promise<Job[]> {
    return this.store.recoverExpired(limit);
  }

  /** Delete finished jobs older than `olderThanMs` in the given terminal states (default all). */
  clean(
    olderThanMs: number,
    states: readonly JobState[] = TERMINAL_STATES,
    actor?: string,
    dependents?: DependentsPolicy,
  ): Promise<number> {
    const bad = states.filter((s) => !isTerminal(s));
    if (bad.length > 0) {
      return Promise.reject(new InvalidInputError(`clean only removes finished jobs, not ${bad.join(", ")}`));
    }
    return this.store.clean(
      { finishedBefore: this.clock.now() - olderThanMs, states },
      actor ?? this.actor,
      dependents,
    );
  }

  async note(jobId: string, text: string, actor?: string): Promise<void> {
    const job = await this.get(jobId);
    await this.store.addEvent({
      jobId,
      workflow: job.workflow,
      project: job.project,
      actor: actor ?? this.actor,
      kind: "note",
      fromState: null,
      toState: null,
      details: { text },
    });
  }

  // --- reads ----------------------------------------------------------------------------------

  async get(jobId: string): Promise<Job> {
    const job = await this.store.getJob(jobId);
    if (job === undefined) throw new JobNotFoundError(jobId);
    return job;
  }

  /**
   * Find the one job a reference names (D59): a full id; else every job the reference could mean —
   * an id it begins (4+ characters), an id whose short id it ends (6+ characters, see `shortId`),
   * a job of that name. Names are looked up in `project` first, and in every project only when
   * `project` has none — never with `only` (a project the caller named, D145: a name it does not
   * have there is JOB_NOT_FOUND naming it, not another project's job). Several runs may share a
   * name: exactly one of them still live is the one meant. Anything that still matches two jobs
   * is `AMBIGUOUS_ID` listing them: never "the newest wins", and a name never hides an id it
   * looks like.
   */
  async resolve(reference: string, project?: string, options: { only?: boolean } = {}): Promise<Job> {
    const upper = reference.toUpperCase();
    if (upper.length === 26) {
      const exact = await this.store.getJob(upper);
      if (exact !== undefined) return exact;
    }
    const { prefix, suffix } = referenceKeys(reference);
    const isId = (j: Job) =>
      (prefix !== null && j.id.startsWith(prefix)) || (suffix !== null && j.id.endsWith(upper));
    let found = await this.store.findJobs(reference, RESOLVE_LIMIT, project);
    let named = found.filter((j) => j.name === reference && (project === undefined || j.project === project));
    if (named.length === 0 && project !== undefined && options.only !== true) {
      found = await this.store.findJobs(reference, RESOLVE_LIMIT);
      named = found.filter((j) => j.name === reference);
    }
    const live = named.filter((j) => !isTerminal(j.state));
    if (named.length > 1 && live.length === 1) named = live;
    const matches = [...found.filter(isId), ...named.filter((j) => !isId(j))];
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) {
      const hint =
        upper.length < SHORT_ID_LENGTH
          ? ` (a short id has ${SHORT_ID_LENGTH} characters, an id prefix at least 4)`
          : "";
      const where = options.only === true && project !== undefined ? ` in project ${project}` : "";
      throw new BatonError("JOB_NOT_FOUND", `no job matches '${reference}'${where}${hint}`, {
        details: { id: reference, ...(where === "" ? {} : { project }) },
      });
    }
    // Past 10, count them (up to COUNT_LIMIT) so the answer says how many and how to narrow (D114).
    let total = String(matches.length);
    if (matches.length > 10) {
      const all = await this.store.findJobs(reference, COUNT_LIMIT + 1, project);
      const byName = named.filter((j) => !isId(j)).length;
      const n =
        all.filter(isId).length +
        (byName < RESOLVE_LIMIT ? byName : all.filter((j) => j.name === reference && !isId(j)).length);
      total =
        n > COUNT_LIMIT ? `more than ${COUNT_LIMIT.toLocaleString("en-US")}` : n.toLocaleString("en-US");
    }
    const shown = matches.slice(0, 10);
    const describe = (j: Job) => {
      const how = [
        isId(j) ? undefined : `named '${j.name ?? ""}'`,
        j.project === project ? undefined : `project ${j.project}`,
      ].filter((w) => w !== undefined);
      return `${j.id}${how.length === 0 ? "" : ` (${how.join(", ")})`}`;
    };
    throw new BatonError(
      "AMBIGUOUS_ID",
      matches.length > 10
        ? `'${reference}' matches ${total} jobs, among them ${shown.map(describe).join(", ")}; narrow it: more characters of the id, its short id (the last ${SHORT_ID_LENGTH}), or a full id`
        : `'${reference}' matches ${total} jobs: ${shown.map(describe).join(", ")}; use a full id`,
      { details: { candidates: shown.map((j) => j.id), matches: total } },
    );
  }

  list(filter: JobFilter, page: Page): Promise<Job[]> {
    return this.store.listJobs(filter, page);
  }

  count(filter: JobFilter): Promise<number> {
    return this.store.countJobs(filter);
  }

  countByState(filter: JobFilter = {}): Promise<StateCount[]> {
    return this.store.countByState(filter);
  }

  /** Counts per project, workflow and state of the jobs that belong to a workflow. */
  workflowCounts(filter: JobFilter = {}): Promise<WorkflowCount[]> {
    return this.store.workflowCounts(filter);
  }

  /** State changes into each state since `since` (ms), counted in the store. */
  transitionCounts(since: number): Promise<TransitionCount[]> {
    return this.store.transitionCounts(since);
  }

  attempts(jobId: string): Promise<Attempt[]> {
    return this.store.attempts(jobId);
  }

  latestAttempts(jobIds: readonly string[]): Promise<Attempt[]> {
    return this.store.latestAttempts(jobIds);
  }

  events(filter: EventFilter): Promise<JobEvent[]> {
    return this.store.events(filter);
  }

  pauses(): Promise<Pause[]> {
    return this.store.pauses();
  }

  /** Every id matching a filter (paged internally). */
  async allIds(filter: JobFilter): Promise<string[]> {
    const ids: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.listJobs(filter, {
        limit: 1000,
        order: "asc",
        ...(after ? { after } : {}),
      });
      ids.push(...page.map((j) => j.id));
      if (page.length < 1000) return ids;
      after = page[page.length - 1]!.id;
    }
  }

  /** Dependencies of `job` that are no longer in the ledger (deleted or cleaned before D53). */
  async missingDependencies(job: Job): Promise<string[]> {
    const missing: string[] = [];
    for (const id of job.dependsOn) if ((await this.store.getJob(id)) === undefined) missing.push(id);
    return missing;
  }

  /** Why is this job not running? */
  async explain(jobId: string): Promise<Explanation> {
    const job = await this.get(jobId);
    const facts = await this.store.blockingFacts(jobId);
    const now = this.clock.now();
    const reasons: string[] = [];
    switch (job.state) {
      case "succeeded":
      case "failed":
      case "timed_out":
      case "cancelled":
      case "skipped":
        reasons.push(`it is finished (${job.state})${job.error === null ? "" : `: ${job.error}`}`);
        if (job.state !== "succeeded" && job.state !== "skipped") reasons.push("`redrive` queues it again");
        break;
      case "running":
        reasons.push(
          `it is running (attempt ${job.attempts}/${job.maxAttempts}, owner ${job.leaseOwner ?? "?"}, lease until ${new Date(job.leaseExpiresAt ?? 0).toISOString()})`,
        );
        if (job.leaseExpiresAt !== null && job.leaseExpiresAt < now) {
          reasons.push("its lease has expired: the next claim or recovery pass will take it back");
        }
        break;
      case "waiting":
        for (const dep of facts.unfinishedDependencies) {
          reasons.push(
            `waiting on dependency ${dep.id} (${dep.state})${dep.state === "failed" || dep.state === "timed_out" || dep.state === "cancelled" ? ": redrive or skip it to unblock" : ""}`,
          );
        }
        for (const id of await this.missingDependencies(job)) {
          reasons.push(
            `waiting on dependency ${id}, which no longer exists (deleted or cleaned): it can never finish; skip or cancel this job, or enqueue it again without that dependency`,
          );
        }
        break;
      case "queued":
      case "retrying":
        if (job.runAt > now) {
          reasons.push(
            `${job.state === "retrying" ? "retry" : "run"} scheduled for ${new Date(job.runAt).toISOString()} (in ${Math.ceil((job.runAt - now) / 1000)} s)`,
          );
        }
        break;
      default: {
        const never: never = job.state;
        return never;
      }
    }
    if (!isTerminal(job.state) && job.state !== "running") {
      for (const pause of facts.pauses) {
        reasons.push(
          pause.scope === "all" ? "everything is paused" : `${pause.scope} '${pause.target}' is paused`,
        );
      }
      if (facts.resourceHolder !== null) {
        reasons.push(`resource '${job.resourceKey}' is held by running job ${facts.resourceHolder.id}`);
      }
      if (reasons.length === 0) {
        reasons.push(
          `it is ready; nothing has claimed it yet (a '${job.type}' job needs an executor or an agent to claim or complete it)`,
        );
      }
    }
    return {
      id: job.id,
      state: job.state,
      reasons,
      facts: { ...facts, runAt: job.runAt, leaseExpiresAt: job.leaseExpiresAt, leaseOwner: job.leaseOwner },
    };
  }
}
