/**
 * The PostgreSQL store: the same ledger as SQLite, for teams and fleets (several processes and
 * hosts on one queue). The write logic is {@link LedgerStore}'s, over the row-level primitives of
 * ledger-tx.ts; the hot operations (enqueue, claim, complete, heartbeat) usually run as one
 * statement each instead (fast-paths.ts). Connections and retries: connection.ts; LISTEN:
 * wake-listener.ts; reads: reads.ts.
 *
 * Concurrency model (READ COMMITTED, the server's default):
 * - every row a transaction changes is locked first (`FOR UPDATE`); claims and lease recovery lock
 *   with `SKIP LOCKED`, so claimers never wait on each other and never share a job;
 * - races that row locks cannot cover (two enqueues of one idempotency key, two claims of one
 *   resource) are settled by unique partial indexes: the loser's transaction is run again;
 * - serialization failures, deadlocks and broken connections re-run the whole transaction
 *   (bounded), except a COMMIT whose outcome is unknown, which is reported, never guessed
 *   (the one-statement paths say how each settles a broken connection).
 */
import { currentRequest } from "../../core/request.js";
import { createHash } from "node:crypto";
import type { Clock } from "../../core/clock.js";
import { systemClock } from "../../core/clock.js";
import { BatonError, LeaseLostError, SchemaTooNewError } from "../../core/errors.js";
import type { Attempt, ClaimedJob, Job, JobEvent } from "../../core/job.js";
import type { LedgerTx } from "../ledger.js";
import { LedgerStore } from "../ledger.js";
import { newJobRecord, publicJob } from "../records.js";
import { latestMigration, migrationFiles, sqlFile } from "../sql-files.js";
import type { PoolClient } from "pg";
import type { JobRow } from "../sqlite/rows.js";
import type {
  BatchOp,
  BatchResult,
  BlockingFacts,
  ClaimRequest,
  EnqueueOutcome,
  EventFilter,
  FinishRequest,
  JobFilter,
  MigrationResult,
  NewJob,
  Page,
  Pause,
  StateCount,
  TransitionCount,
  WorkflowCount,
} from "../types.js";
import {
  PgConnection,
  RETRY_LIMITS,
  quoteIdent,
  checkSslMode,
  redactDatabaseUrl,
  run,
  sleep,
  validateSchemaName,
} from "./connection.js";
import { classify, sqlState, translate } from "./errors.js";
import { Coalescer } from "./coalesce.js";
import {
  attemptOutcome,
  canClaimFast,
  canCompleteFast,
  canEnqueueFast,
  claimJobs,
  claimShape,
  type ClaimRow,
  completeJobs,
  completeThenClaim,
  countJobs,
  enqueueJobs,
  renewLease,
} from "./fast-paths.js";
import { ledgerTx } from "./ledger-tx.js";
import { PgReads } from "./reads.js";
import { WakeListener } from "./wake-listener.js";

export { redactDatabaseUrl, validateSchemaName } from "./connection.js";

/** Most callers in one coalesced statement (D36). */
const COALESCE_MAX_BATCH = 64;
/** Most jobs one coalesced claim asks for (a single request asking for more goes alone). */
const COALESCE_MAX_SLOTS = 1000;

/** A coalesced completion's answer: the job, or the path its caller takes next. */
type FastFinish = Job | "general" | "broken";

/**
 * Whether a coalesced statement's error goes straight to its caller: a server error (not a lost
 * race, 23505) when the caller was alone. In a batch, each caller retries on the general path,
 * so an error one of them caused stays theirs.
 */
function callersOwn(error: unknown, callers: number): boolean {
  return callers === 1 && classify(error) === "fatal" && sqlState(error) !== "23505";
}

/** One item's answer in its batch slot: its value, or the BatonError it alone failed with. */
function slot<T>(
  kind: BatchResult["kind"],
  settled: PromiseSettledResult<T>,
  ok: (value: T) => BatchResult,
  location: string,
): BatchResult {
  if (settled.status === "fulfilled") return ok(settled.value);
  const error = translate(settled.reason, location);
  if (!(error instanceof BatonError)) throw error;
  return { kind, ok: false, error };
}

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database` (anything `pg` accepts). */
  connectionString: string;
  /**
   * The schema holding the ledger's tables (default `baton`), created by {@link PostgresStore.migrate}.
   * Letters, digits and `_`, not starting with a digit, at most 63 characters. Several ledgers can
   * share one database in different schemas.
   */
  schema?: string;
  clock?: Clock;
  random?: () => number;
  /** Connections in the pool (default 10). One transaction holds one connection. */
  poolSize?: number;
  /** `statement_timeout` of every connection, ms (default 30 000). A statement that runs longer is STORE_BUSY. */
  statementTimeoutMs?: number;
  /** How long to wait for a new connection before giving up, ms (default 10 000). */
  connectTimeoutMs?: number;
}

/**
 * The ledger on PostgreSQL: the same {@link Store} contract as {@link SqliteStore}, shared by any
 * number of processes on any number of hosts.
 *
 * @example
 * const store = new PostgresStore({ connectionString: "postgres://baton@db:5432/baton", schema: "baton" });
 * await store.migrate();
 * const engine = new Engine(store);
 * const stop = store.onWake(() => worker.poke()); // LISTEN/NOTIFY; keep a slow poll as well
 */
export class PostgresStore extends LedgerStore {
  readonly kind = "postgres" as const;
  /** The connection string with its password redacted. */
  readonly location: string;
  readonly ledger: string;
  readonly schema: string;
  /** The LISTEN/NOTIFY channel of this ledger: `baton_<schema>`. */
  readonly channel: string;
  private readonly db: PgConnection;
  private readonly reads: PgReads;
  private readonly wakeListeners = new Set<() => void>();
  private listener: WakeListener | undefined;
  /** Per claim shape (the filters): concurrent claims of one shape, one statement per batch (D36). */
  private readonly claims = new Map<string, Coalescer<ClaimRequest, ClaimedJob[] | undefined>>();
  /** Concurrent successes presenting their token, one statement per batch (D36). */
  private readonly completions: Coalescer<FinishRequest, FastFinish>;

  constructor(options: PostgresStoreOptions) {
    super(options.clock ?? systemClock, options.random);
    this.schema = validateSchemaName(options.schema ?? "baton");
    checkSslMode(options.connectionString);
    this.location = redactDatabaseUrl(options.connectionString);
    // Several ledgers may share one database, one per schema (D134).
    this.ledger = `${this.location}#schema=${this.schema}`;
    const channel = `baton_${this.schema}`;
    this.channel =
      Buffer.byteLength(channel) <= 63
        ? channel
        : `baton_${createHash("sha1").update(this.schema).digest("hex").slice(0, 32)}`;
    this.db = new PgConnection(
      {
        connectionString: options.connectionString,
        schema: this.schema,
        poolSize: options.poolSize ?? 10,
        statementTimeoutMs: options.statementTimeoutMs ?? 30_000,
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      },
      this.location,
      this.random,
    );
    this.reads = new PgReads(this.db);
    this.completions = new Coalescer((requests) => this.completeBatch(requests), {
      maxBatch: COALESCE_MAX_BATCH,
      accepts: (batch, next) => !batch.some((request) => request.jobId === next.jobId),
    });
  }

  // --- schema ---------------------------------------------------------------------------------

  async schemaVersion(): Promise<number> {
    try {
      const { rows } = await this.db.read<{ v: number | null }>(
        "SELECT max(version) AS v FROM schema_migrations",
      );
      return rows[0]?.v ?? 0;
    } catch (error) {
      const cause = error instanceof BatonError ? error.cause : error;
      if ((cause as { code?: unknown } | undefined)?.code === "42P01") return 0;
      throw error;
    }
  }

  /**
   * Apply the numbered migrations of `sql/postgres/` the schema lacks, all in one transaction under
   * an advisory lock, so any number of processes may call this at once: one applies, the others
   * wait and find nothing left to do. A schema newer than this code is SCHEMA_TOO_NEW.
   */
  async migrate(): Promise<MigrationResult> {
    const latest = latestMigration("postgres");
    const current = await this.schemaVersion();
    if (current > latest) throw new SchemaTooNewError(current, latest, this.location);
    if (current === latest) return { applied: [], version: current };
    const migrations = migrationFiles("postgres");
    return this.db.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `baton:migrate:${this.schema}`,
      ]);
      const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [this.schema]);
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdent(this.schema)}`);
      await client.query(sqlFile("postgres", "schema_migrations"));
      const { rows } = await client.query<{ v: number | null }>(
        "SELECT max(version) AS v FROM schema_migrations",
      );
      const now = rows[0]?.v ?? 0;
      if (now > latest) throw new SchemaTooNewError(now, latest, this.location);
      const applied: number[] = [];
      for (const migration of migrations) {
        if (migration.version <= now) continue;
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
          migration.version,
          migration.name,
          Date.now(),
        ]);
        applied.push(migration.version);
      }
      return { applied, version: latest };
    });
  }

  async close(): Promise<void> {
    if (this.db.closed) return;
    this.db.closed = true;
    this.wakeListeners.clear();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
    await this.db.close();
  }

  // --- wake-ups -------------------------------------------------------------------------------

  /**
   * Call `listener` when jobs may have become claimable anywhere on this ledger: another process
   * (any host) enqueued, redrove, retried, released or unblocked a job. Uses LISTEN/NOTIFY on a
   * dedicated connection, opened with the first subscriber and closed with the last; it
   * reconnects by itself and wakes everyone once after a reconnect (notifications sent meanwhile
   * are lost). Wake-ups are hints, not a queue: a consumer still polls slowly (e.g. every 30 s)
   * as a safety net, and must expect spurious wake-ups. Returns the unsubscribe function.
   */
  onWake(listener: () => void, options: { pingMs?: number } = {}): () => void {
    this.db.assertOpen();
    this.wakeListeners.add(listener);
    this.listener ??= new WakeListener(
      this.db.clientConfig,
      this.channel,
      () => {
        for (const wake of [...this.wakeListeners]) {
          try {
            wake();
          } catch {
            // A listener's failure must not stop the others or the connection.
          }
        }
      },
      options.pingMs ?? 30_000,
    );
    return () => {
      this.wakeListeners.delete(listener);
      if (this.wakeListeners.size === 0 && this.listener !== undefined) {
        const stopping = this.listener;
        this.listener = undefined;
        void stopping.close();
      }
    };
  }

  // --- writes: the general path -----------------------------------------------------------------

  protected write<T>(fn: (tx: LedgerTx) => Promise<T>): Promise<T> {
    return this.writeOn(this.recorded(fn));
  }

  /** {@link write}, also handing `fn` the transaction's connection for statements of its own. */
  private writeOn<T>(fn: (tx: LedgerTx, client: PoolClient) => Promise<T>): Promise<T> {
    return this.db.transaction(async (client) => {
      const state = { wake: false, lockDependencies: true };
      const result = await fn(ledgerTx(client, state, this.schema), client);
      // Delivered to listeners on COMMIT, and only then.
      if (state.wake) await run(client, "SELECT pg_notify($1, '')", [this.channel]);
      return result;
    });
  }

  /**
   * A busy worker's batch (successes, then a claim) is one statement (D38); successes alone, or a
   * claim alone, one coalesced statement each (D36). Any other batch is a group commit in one
   * transaction, as on the general path, except for the two kinds of item a busy worker's batch is
   * made of: the successes that present their token are completed by ONE
   * statement for all of them, and a claim that comes last (the worker asks for its free slots
   * after its outcomes) is the one-statement claim, in its own savepoint. Everything else (leases
   * lost, dependents, expired leases to recover first) runs in order on the general path, in the
   * same transaction.
   */
  override batch(ops: readonly BatchOp[]): Promise<BatchResult[]> {
    if (currentRequest() !== undefined) return super.batch(ops);
    const last = ops.at(-1);
    const claimLast = last?.kind === "claim" && canClaimFast(last.request) ? last : undefined;
    const statements = this.batchAsStatements(ops, claimLast?.request);
    if (statements !== undefined) return statements;
    const fast = new Map<string, number>();
    for (const [i, op] of ops.entries()) {
      if (op.kind === "finish" && canCompleteFast(op.request) && !fast.has(op.request.jobId))
        fast.set(op.request.jobId, i);
    }
    if (fast.size < 2 && claimLast === undefined) return super.batch(ops);
    return this.writeOn(async (tx, client) => {
      const settled = new Map<number, BatchResult>();
      if (fast.size >= 2) {
        const requests = [...fast.values()].map(
          (i) => (ops[i] as Extract<BatchOp, { kind: "finish" }>).request,
        );
        const done = await completeJobs(
          (text, values) => run<JobRow>(client, text, values),
          requests,
          this.clock.now(),
        );
        for (const [id, job] of done) settled.set(fast.get(id)!, { kind: "finish", ok: true, job });
      }
      if (claimLast === undefined) return this.batchInTx(tx, ops, settled);
      const out = await this.batchInTx(tx, ops.slice(0, -1), settled);
      out.push(await this.claimLastInTx(tx, client, claimLast));
      return out;
    });
  }

  /**
   * The batch a busy worker sends most (successes presenting their token, then at most one claim)
   * as single statements: both kinds in one (D38), or the one kind present as a statement shared
   * with other callers of this store (D36). One round trip instead of a transaction's six. Each
   * slot reports its own answer. `claim`: the batch's last op when it is a one-statement claim.
   * `undefined`: any other batch, for one transaction.
   */
  private batchAsStatements(
    ops: readonly BatchOp[],
    claim: ClaimRequest | undefined,
  ): Promise<BatchResult[]> | undefined {
    const finishes: FinishRequest[] = [];
    for (const op of claim === undefined ? ops : ops.slice(0, -1)) {
      if (op.kind !== "finish" || !canCompleteFast(op.request)) return undefined;
      if (finishes.some((r) => r.jobId === op.request.jobId)) return undefined;
      finishes.push(op.request);
    }
    if (finishes.length === 0 && claim === undefined) return undefined;
    if (finishes.length > 0 && claim !== undefined) return this.completeThenClaim(finishes, claim);
    return this.statementsInRow(finishes, claim);
  }

  /**
   * Successes, then (once they are committed, so it sees the resources they free) a claim: two
   * coalesced statements in a row, each shared with other callers (D36). Should the claim fail with
   * the store unreachable, the successes before it stand, and the claim's slot says so.
   */
  private statementsInRow(
    finishes: FinishRequest[],
    claim: ClaimRequest | undefined,
  ): Promise<BatchResult[]> {
    const answers = this.completions
      .submitAll(finishes)
      .map((answer, i) => answer.then((outcome) => this.afterFastFinish(finishes[i]!, outcome)));
    return this.slots(answers, claim === undefined ? undefined : () => this.claim(claim));
  }

  /** The batch's answers in their slots: the finishes in order, then (started after them) the claim. */
  private async slots(
    finishes: readonly Promise<Job>[],
    claim: (() => Promise<ClaimedJob[]>) | undefined,
  ): Promise<BatchResult[]> {
    const out: BatchResult[] = [];
    for (const settled of await Promise.allSettled(finishes)) {
      out.push(slot("finish", settled, (job) => ({ kind: "finish", ok: true, job }), this.location));
    }
    if (claim !== undefined) {
      const [settled] = await Promise.allSettled([claim()]);
      out.push(slot("claim", settled, (claimed) => ({ kind: "claim", ok: true, claimed }), this.location));
    }
    return out;
  }

  /**
   * A worker's batch (successes, then a claim for its free slots) as ONE statement: one round trip
   * and one commit instead of two (D38). Any error but a broken connection rolled the statement
   * back whole, so the two-statement path runs instead and sorts out whose error it is. A broken
   * connection may have committed: each success checks its own attempt, and the claim runs again
   * (jobs a lost answer had claimed return when their lease runs out, as a crashed worker's do).
   */
  private async completeThenClaim(finishes: FinishRequest[], claim: ClaimRequest): Promise<BatchResult[]> {
    let outcomes: FastFinish[];
    let claimed: () => Promise<ClaimedJob[]>;
    try {
      const combined = await completeThenClaim(
        (text, values) => this.db.statement(text, values),
        finishes,
        claim,
        this.clock.now(),
      );
      if (combined === undefined) return await this.statementsInRow(finishes, claim);
      outcomes = finishes.map((request) => combined.done.get(request.jobId) ?? "general");
      const first = combined.claimed;
      if (first === undefined) claimed = () => this.claim(claim);
      else if (combined.freed && first.length < claim.limit)
        claimed = async () => [
          ...first,
          ...(await this.claim({ ...claim, limit: claim.limit - first.length })),
        ];
      else claimed = () => Promise.resolve(first);
    } catch (error) {
      if (classify(error) !== "connection") return this.statementsInRow(finishes, claim);
      outcomes = finishes.map(() => "broken");
      claimed = () => this.claim(claim);
    }
    const answers = finishes.map((request, i) => this.afterFastFinish(request, outcomes[i]!));
    return this.slots(answers, claimed);
  }

  /** The claim that ends a batch: one statement in a savepoint, else the general path. */
  private async claimLastInTx(
    tx: LedgerTx,
    client: PoolClient,
    op: Extract<BatchOp, { kind: "claim" }>,
  ): Promise<BatchResult> {
    let claimed: ClaimedJob[][] | undefined;
    try {
      claimed = await tx.savepoint(() =>
        claimJobs((text, values) => run<ClaimRow>(client, text, values), [op.request], this.clock.now()),
      );
    } catch (error) {
      // A lost race (a resource key, an attempt number): the general path decides, as below.
      if (sqlState(error) !== "23505") throw error;
    }
    if (claimed !== undefined) return { kind: "claim", ok: true, claimed: claimed[0]! };
    return (await this.batchInTx(tx, [op]))[0]!;
  }

  // --- writes: one statement each in the common case (fast-paths.ts) ----------------------------

  override async insertJobs(jobs: readonly NewJob[], actor: string): Promise<EnqueueOutcome[]> {
    // A request's writes are recorded on the general path, in their transaction.
    if (currentRequest() !== undefined) return super.insertJobs(jobs, actor);
    this.db.assertOpen();
    const now = this.clock.now();
    const records = jobs.map((spec) => newJobRecord(spec, "queued", now));
    if (records.length === 0 || !canEnqueueFast(records)) return super.insertJobs(jobs, actor);
    const payloads = jobs.map((spec) => spec.payload);
    const counts = { contention: 0, connection: 0, stale_plan: 0 };
    // After a connection broke mid-statement the insert may have committed: the retry skips ids
    // that exist, and all of them existing means it had.
    let retry = false;
    for (;;) {
      try {
        const inserted = await enqueueJobs(this.db, records, payloads, now, actor, this.channel, retry);
        if (
          inserted !== records.length &&
          !(
            retry &&
            inserted === 0 &&
            (await countJobs(
              this.db,
              records.map((r) => r.id),
            )) === records.length
          )
        ) {
          throw new BatonError(
            "STORE_UNAVAILABLE",
            `the connection to ${this.location} broke during an enqueue, and its retry found part of it saved`,
          );
        }
        return records.map((record) => ({ job: publicJob(record), deduplicated: false }));
      } catch (error) {
        const kind = classify(error);
        if (kind === "fatal") throw translate(error, this.location);
        if (kind === "connection") retry = true;
        counts[kind]++;
        if (counts[kind] > RETRY_LIMITS[kind]) throw translate(error, this.location);
        await sleep(this.db.retryDelay(kind, counts[kind]));
      }
    }
  }

  /**
   * Claims that can be one statement are coalesced: those made while an earlier one with the same
   * filters is on its way go together in the next statement (D36). A connection that breaks
   * during it sends each caller to the general path; if the server had committed the claim, those
   * jobs' leases run out unworked and lease recovery hands them on, as it does a crashed worker's.
   */
  override async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    if (currentRequest() !== undefined) return super.claim(request);
    if (canClaimFast(request)) {
      const shape = claimShape(request);
      let claims = this.claims.get(shape);
      if (claims === undefined) {
        claims = new Coalescer((requests) => this.claimBatch(requests), {
          maxBatch: COALESCE_MAX_BATCH,
          accepts: (batch, next) =>
            batch.length === 0 || batch.reduce((n, r) => n + r.limit, next.limit) <= COALESCE_MAX_SLOTS,
        });
        this.claims.set(shape, claims);
      }
      const claimed = await claims.submit(request);
      // A shape nobody is claiming with any more leaves the map (filters can be anything).
      if (claims.idle && this.claims.get(shape) === claims) this.claims.delete(shape);
      if (claimed !== undefined) return claimed;
    }
    return super.claim(request);
  }

  /** One statement for claims of one shape; `undefined` sends that caller to the general path. */
  private async claimBatch(requests: ClaimRequest[]): Promise<(ClaimedJob[] | undefined)[]> {
    try {
      const claimed = await claimJobs(
        (text, values) => this.db.statement<ClaimRow>(text, values),
        requests,
        this.clock.now(),
      );
      if (claimed !== undefined) return claimed;
    } catch (error) {
      // A lost race (a resource key, an attempt number) or a broken connection: the general path
      // runs again with its bounded retries. Any other error is the caller's when it was alone;
      // in a batch, each caller finds out on the general path whether it is theirs.
      if (callersOwn(error, requests.length)) throw translate(error, this.location);
    }
    return requests.map(() => undefined);
  }
  override async heartbeat(
    jobId: string,
    token: string,
    leaseMs: number,
  ): Promise<{ leaseExpiresAt: number }> {
    if (currentRequest() !== undefined) return super.heartbeat(jobId, token, leaseMs);
    const leaseExpiresAt = this.clock.now() + leaseMs;
    try {
      if (await renewLease(this.db, jobId, token, leaseExpiresAt)) return { leaseExpiresAt };
    } catch (error) {
      // Renewing twice is harmless: the general path retries a broken connection.
      if (classify(error) === "fatal") throw translate(error, this.location);
    }
    return super.heartbeat(jobId, token, leaseMs);
  }

  /** Successes presenting their token are coalesced into one statement per batch (D36). */
  override async finish(request: FinishRequest): Promise<Job> {
    if (currentRequest() !== undefined) return super.finish(request);
    if (!canCompleteFast(request)) return super.finish(request);
    return this.afterFastFinish(request, await this.completions.submit(request));
  }

  /** A coalesced completion's answer, or the path its caller takes next. */
  private afterFastFinish(request: FinishRequest, outcome: FastFinish): Promise<Job> {
    if (outcome === "general") return super.finish(request);
    if (outcome === "broken") return this.finishAfterBrokenConnection(request);
    return Promise.resolve(outcome);
  }

  /** One statement for these completions (distinct jobs); each caller's job, or its next step. */
  private async completeBatch(requests: FinishRequest[]): Promise<FastFinish[]> {
    try {
      const done = await completeJobs(
        (text, values) => this.db.statement<JobRow>(text, values),
        requests,
        this.clock.now(),
      );
      return requests.map((request) => done.get(request.jobId) ?? "general");
    } catch (error) {
      if (classify(error) === "connection") return requests.map(() => "broken");
      if (callersOwn(error, requests.length)) throw translate(error, this.location);
      return requests.map(() => "general");
    }
  }

  /**
   * The connection broke during a one-statement completion: it may have committed. Run the general
   * path; if that finds the lease gone because our own attempt already succeeded, the first try
   * had committed, and the job is the answer.
   */
  private async finishAfterBrokenConnection(request: FinishRequest): Promise<Job> {
    try {
      return await super.finish(request);
    } catch (error) {
      if (
        error instanceof LeaseLostError &&
        (await attemptOutcome(this.db, request.jobId, request.token!)) === "succeeded"
      ) {
        const job = await this.getJob(request.jobId);
        if (job !== undefined) return job;
      }
      throw error;
    }
  }

  // --- reads (reads.ts) -----------------------------------------------------------------------

  getJob(id: string): Promise<Job | undefined> {
    return this.reads.getJob(id);
  }

  findJobs(reference: string, limit: number, project?: string): Promise<Job[]> {
    return this.reads.findJobs(reference, limit, project);
  }

  listJobs(filter: JobFilter, page: Page): Promise<Job[]> {
    return this.reads.listJobs(filter, page);
  }

  countJobs(filter: JobFilter): Promise<number> {
    return this.reads.countJobs(filter);
  }

  countByState(filter: JobFilter): Promise<StateCount[]> {
    return this.reads.countByState(filter);
  }

  workflowCounts(filter: JobFilter): Promise<WorkflowCount[]> {
    return this.reads.workflowCounts(filter);
  }

  transitionCounts(since: number): Promise<TransitionCount[]> {
    return this.reads.transitionCounts(since);
  }

  attempts(jobId: string): Promise<Attempt[]> {
    return this.reads.attempts(jobId);
  }

  latestAttempts(jobIds: readonly string[]): Promise<Attempt[]> {
    return this.reads.latestAttempts(jobIds);
  }

  events(filter: EventFilter): Promise<JobEvent[]> {
    return this.reads.events(filter);
  }

  blockingFacts(jobId: string): Promise<BlockingFacts> {
    return this.reads.blockingFacts(jobId);
  }

  nextRunAt(): Promise<number | null> {
    return this.reads.nextRunAt();
  }

  pauses(): Promise<Pause[]> {
    return this.reads.pauses();
  }

  requestCall(requestId: string): Promise<{ op: string; seq: number; result: string } | undefined> {
    return this.reads.requestCall(requestId);
  }
}
