import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Clock } from "../../core/clock.js";
import { systemClock } from "../../core/clock.js";
import { SchemaTooNewError } from "../../core/errors.js";
import type { Attempt, Job, JobEvent } from "../../core/job.js";
import { isCandidate, referenceKeys } from "../../core/ids.js";
import { checkOwnPath, ensureDir } from "../../core/paths.js";
import type { JobState } from "../../core/states.js";
import type { AttemptRow, LedgerTx, WriteKind } from "../ledger.js";
import { LedgerStore } from "../ledger.js";
import { EVENT_COLUMNS, eventValues, publicJob } from "../records.js";
import { historySql } from "../history.js";
import { latestMigration, migrationFiles, sqlFile } from "../sql-files.js";
import type {
  BlockingFacts,
  ClaimRequest,
  EventFilter,
  JobFilter,
  JobRecord,
  MigrationResult,
  Page,
  Pause,
  PauseScope,
  StateCount,
  TransitionCount,
  WorkflowCount,
} from "../types.js";
import { classify, InjectedSqliteError, translate } from "./errors.js";
import type { AttemptRowSql, EventRowSql, JobRow, LockRow, ScheduleRow } from "./rows.js";
import {
  encodeJobPatch,
  jobRowDecoder,
  toAttempt,
  toEvent,
  toJobRecord,
  toLock,
  scheduleValues,
  SCHEDULE_COLUMNS,
  toPause,
  toSchedule,
} from "./rows.js";
import { sleep } from "../../core/timer.js";

export type Durability = "full" | "normal";

/** Called before every statement a write transaction runs. Throw to inject a fault. Tests only. */
export type FaultHook = (statementIndex: number, sql: string) => void;

export interface SqliteStoreOptions {
  /** Path of the database file. Its directory is created 0700 when missing, never changed. */
  path: string;
  /**
   * `full` (default): a committed transaction survives a power cut (WAL + synchronous=FULL).
   * `normal`: WAL + synchronous=NORMAL, faster; a power cut may lose the last commits, never corrupts.
   */
  durability?: Durability;
  /** How long one statement waits for another process's lock before retrying, in ms. */
  busyTimeoutMs?: number;
  clock?: Clock;
  random?: () => number;
  /** Fault-injection seam, off by default. */
  faultHook?: FaultHook;
}

const RETRY_LIMITS = { busy: 50, io: 2, full: 2 } as const;
/** Pauses (ms) between the tries for the write lock before SQLite's busy handler takes over. */
/** SQL: the job `j` has waiting dependents (a finished job they need must not be cleaned). */
const HAS_WAITING_DEPENDENTS =
  "EXISTS (SELECT 1 FROM job_deps d JOIN jobs w ON w.id = d.job_id WHERE d.depends_on = j.id AND w.state = 'waiting')";

const QUICK_RETRIES = [0.05, 0.1, 0.2, 0.4, 0.8];

/**
 * The two halves of the jobs by state (migration 000013, D158): jobs_claim_type holds the
 * claimable jobs, jobs_state all the others. SQLite reads a partial index only when the query's
 * terms imply the index's WHERE, so a read by state carries its half's term, in these exact words.
 */
const CLAIMABLE = "state IN ('queued','retrying')";
const NOT_CLAIMABLE = "state NOT IN ('queued','retrying')";
const isClaimable = (state: JobState) => state === "queued" || state === "retrying";

/** A job filter's WHERE for one half of the states (`claimable` undefined: no half term). */
interface WherePart {
  sql: string;
  params: unknown[];
  claimable: boolean | undefined;
}

/**
 * The next event id: one above every id handed out, stored (events) or derived (a job's
 * `enqueued` event, jobs.enqueue_id; migration 000011, D152). Each max() is one seek to the end of
 * a b-tree, under the write lock. Neither maximum goes down: `clean` keeps the newest event row,
 * and deleting a job first stores its derived event (see deleteJob).
 */
const NEXT_EVENT_ID =
  "max(coalesce((SELECT max(id) FROM events), 0), coalesce((SELECT max(enqueue_id) FROM jobs WHERE enqueue_id IS NOT NULL), 0)) + 1";
const INSERT_JOB = `INSERT INTO jobs (id, type, name, payload, state, priority, run_at, attempts, max_attempts, backoff,
  workflow, project, idempotency_key, resource_key, tags, depends_on, timeout_ms, created_at, updated_at,
  enqueue_id, enqueue_actor, enqueue_state)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${NEXT_EVENT_ID}, ?, ?)`;
const INSERT_EVENT = `INSERT INTO events (id, ${EVENT_COLUMNS}) VALUES (${NEXT_EVENT_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
/** A job's derived `enqueued` event as a stored row, before the job row goes (D152). */
const STORE_ENQUEUED_EVENT = `INSERT INTO events (id, ${EVENT_COLUMNS})
  SELECT enqueue_id, id, workflow, project, created_at, enqueue_actor, 'enqueued', NULL, enqueue_state, NULL
  FROM jobs WHERE id = ? AND enqueue_id IS NOT NULL`;

/** A job's list column as JSON text; most jobs have no tags and no dependencies. */
function jsonList(items: readonly string[]): string {
  return items.length === 0 ? "[]" : JSON.stringify(items);
}

/** The default store: one SQLite file shared safely by any number of processes. */
/** A node of {@link SqliteStore.updateSql}'s tree: the text for the columns on its path. */
interface UpdateText {
  sql?: string;
  next: Map<string, UpdateText>;
}

export class SqliteStore extends LedgerStore {
  readonly kind = "sqlite" as const;
  readonly location: string;
  readonly ledger: string;
  readonly durability: Durability;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly updateTexts: UpdateText = { next: new Map() };
  private readonly jobDecoders = new WeakMap<Database.Statement, (values: readonly unknown[]) => JobRow>();
  private readonly faultHook: FaultHook | undefined;
  private statementIndex = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly busyTimeoutMs: number;

  constructor(options: SqliteStoreOptions) {
    super(options.clock ?? systemClock, options.random);
    this.location = options.path;
    this.ledger = options.path;
    this.durability = options.durability ?? "full";
    this.faultHook = options.faultHook;
    // The file's folder is created private when missing; an existing one is the user's and is
    // never changed (the database files themselves are made 0600 below).
    ensureDir(dirname(options.path));
    // A ledger another user owns or may write is refused (D86): its queued commands would run as
    // this user. A new file is made 0600 before SQLite opens it, so it (and the -wal and -shm
    // SQLite gives its mode) is never open to others, whatever the umask.
    try {
      closeSync(openSync(options.path, "wx", 0o600));
    } catch {
      // It exists (checked next), or cannot be made: SQLite's own open says why, as a typed error.
    }
    for (const suffix of ["", "-wal", "-shm"])
      checkOwnPath(
        options.path + suffix,
        suffix === "" ? "the database" : `the database's ${suffix.slice(1)} file`,
      );
    try {
      this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
      const db = new Database(options.path, { timeout: this.busyTimeoutMs });
      this.db = db;
      // Switching a new file to WAL needs an exclusive lock; when several processes open the same
      // new file at once SQLite can answer BUSY here without waiting, so retry.
      this.withBusyRetry(() => db.pragma("journal_mode = WAL"));
      this.db.pragma(`synchronous = ${this.durability === "full" ? "FULL" : "NORMAL"}`);
      this.db.pragma("foreign_keys = ON");
      // Checkpoint often enough that the WAL stays small under sustained load.
      this.db.pragma("wal_autocheckpoint = 1000");
    } catch (error) {
      throw translate(error, options.path);
    }
    this.restrictFileModes();
  }

  private restrictFileModes(): void {
    for (const suffix of ["", "-wal", "-shm"]) {
      const file = this.location + suffix;
      try {
        if (existsSync(file)) chmodSync(file, 0o600);
      } catch (error) {
        // Another process closing the last connection deletes -wal and -shm between the two calls.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
  }

  /**
   * A cached prepared statement. A `LIMIT` is always written `LIMIT +?` (an expression), never with a
   * bare parameter: SQLite reads a bare bound LIMIT while planning, so every new binding (and
   * better-sqlite3 binds at every call) re-prepares the statement, which cost 13–33 µs a run
   * (D34). A test keeps bare bound LIMITs out of the SQLite store.
   */
  /**
   * The `UPDATE jobs` text for a patch's columns, built once per set of columns: the engine's
   * patches come in a few shapes, and building the text for every call was 10 % of the bytes a
   * worker allocated per job (issue 22). A tree keyed by column name, so a lookup makes no string.
   */
  private updateSql(columns: readonly string[]): string {
    let node = this.updateTexts;
    for (const column of columns) {
      let next = node.next.get(column);
      if (next === undefined) {
        next = { next: new Map() };
        node.next.set(column, next);
      }
      node = next;
    }
    node.sql ??= `UPDATE jobs SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`;
    return node.sql;
  }

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Run one statement of a write transaction (through the fault seam when one is set). */
  private exec(sql: string): Database.Statement {
    if (this.faultHook !== undefined) this.faultHook(this.statementIndex++, sql);
    return this.stmt(sql);
  }

  /**
   * Run a statement that returns `jobs` rows (`SELECT *`, `j.*`) and decode them. The statement
   * runs in better-sqlite3's raw mode (arrays), which allocates a third of what its object rows do
   * (D40); a statement is only ever used through here, so the mode set once stays right.
   */
  private jobRecords(statement: Database.Statement, ...params: unknown[]): JobRecord[] {
    let decode = this.jobDecoders.get(statement);
    if (decode === undefined) {
      statement.raw(true);
      decode = jobRowDecoder(statement.columns().map((column) => column.name));
      this.jobDecoders.set(statement, decode);
    }
    const rows = statement.all(...params) as unknown[][];
    return rows.map((values) => toJobRecord(decode(values)));
  }

  // --- schema ---------------------------------------------------------------------------------

  schemaVersion(): Promise<number> {
    return Promise.resolve(this.db.pragma("user_version", { simple: true }) as number);
  }

  migrate(): Promise<MigrationResult> {
    const latest = latestMigration("sqlite");
    let current: number;
    try {
      current = this.withBusyRetry(() => this.db.pragma("user_version", { simple: true }) as number);
    } catch (error) {
      return Promise.reject(translate(error, this.location));
    }
    if (current > latest) return Promise.reject(new SchemaTooNewError(current, latest, this.location));
    if (current === latest) return Promise.resolve({ applied: [], version: current });
    const applied: number[] = [];
    const migrations = migrationFiles("sqlite");
    const run = this.db.transaction(() => {
      // Re-read under the write lock: another process may have migrated meanwhile.
      const now = this.db.pragma("user_version", { simple: true }) as number;
      if (now > latest) throw new SchemaTooNewError(now, latest, this.location);
      for (const migration of migrations) {
        if (migration.version <= now) continue;
        this.db.exec(migration.sql);
        this.db.pragma(`user_version = ${migration.version}`);
        applied.push(migration.version);
      }
    });
    try {
      this.withBusyRetry(() => run.immediate());
    } catch (error) {
      return Promise.reject(translate(error, this.location));
    }
    this.restrictFileModes();
    return Promise.resolve({ applied, version: latest });
  }

  private withBusyRetry<T>(fn: () => T): T {
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (error) {
        if (classify(error) !== "busy" || attempt >= RETRY_LIMITS.busy) throw error;
        sleepSync(5 + Math.random() * 20);
      }
    }
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }

  // --- transactions ---------------------------------------------------------------------------

  protected write<T>(fn: (tx: LedgerTx) => Promise<T>, kind: WriteKind = "record"): Promise<T> {
    const recorded = this.recorded(fn);
    const run = this.queue.then(() => this.runWrite(recorded, kind));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runWrite<T>(fn: (tx: LedgerTx) => Promise<T>, kind: WriteKind): Promise<T> {
    // Under durability "full", a claim or a heartbeat commits without its own fsync (D32): the
    // next commit that does fsync the WAL (an outcome, an enqueue) makes it durable too.
    if (kind === "lease" && this.durability === "full") {
      this.stmt("PRAGMA synchronous = NORMAL").run();
      try {
        return await this.runWriteAttempts(fn);
      } finally {
        if (this.db.open) this.stmt("PRAGMA synchronous = FULL").run();
      }
    }
    return this.runWriteAttempts(fn);
  }

  private async runWriteAttempts<T>(fn: (tx: LedgerTx) => Promise<T>): Promise<T> {
    const counts = { busy: 0, io: 0, full: 0 };
    for (;;) {
      try {
        this.beginImmediate();
        let result: T;
        try {
          result = await fn(this.tx);
          this.exec("COMMIT").run();
        } catch (error) {
          if (this.db.inTransaction) this.db.exec("ROLLBACK");
          throw error;
        }
        return result;
      } catch (error) {
        const kind = classify(error);
        if (kind === "fatal") throw translate(error, this.location);
        counts[kind]++;
        if (counts[kind] > RETRY_LIMITS[kind]) throw translate(error, this.location);
        await sleep(kind === "busy" ? 5 + Math.random() * 20 : 50);
      }
    }
  }

  /**
   * Take the write lock. The lock is usually free, or held for one commit (an fsync, well under a
   * millisecond): try it without waiting a few times, 50 µs to 0.8 ms apart, before SQLite's own
   * busy handler, which sleeps 1 ms, then 2, then 5… between tries. Without this, a worker woken
   * by another process's enqueue found the lock still held for that commit's fsync and slept a
   * whole millisecond or three (D33).
   */
  private beginImmediate(): void {
    const begin = this.exec("BEGIN IMMEDIATE");
    this.stmt("PRAGMA busy_timeout = 0").run();
    try {
      for (const pause of QUICK_RETRIES) {
        try {
          begin.run();
          return;
        } catch (error) {
          // An injected fault stands for SQLite's answer after its own wait: no quick retries.
          if (error instanceof InjectedSqliteError || classify(error) !== "busy") throw error;
        }
        sleepSync(pause);
      }
    } finally {
      this.stmt(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`).run();
    }
    begin.run();
  }

  private readonly tx: LedgerTx = {
    savepoint: async (fn) => {
      this.exec("SAVEPOINT batch_item").run();
      try {
        const result = await fn();
        this.exec("RELEASE batch_item").run();
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK TO batch_item; RELEASE batch_item");
        throw error;
      }
    },
    getJob: (id) => this.jobRecords(this.exec("SELECT * FROM jobs WHERE id = ?"), id)[0],
    findLiveByKey: (key) =>
      this.jobRecords(
        this.exec(
          "SELECT * FROM jobs WHERE idempotency_key = ? AND state IN ('waiting','queued','running','retrying')",
        ),
        key,
      )[0],
    findNewestByKey: (key) =>
      this.jobRecords(
        this.exec("SELECT * FROM jobs WHERE idempotency_key = ? ORDER BY id DESC LIMIT 1"),
        key,
      )[0],
    insertJob: (job, payloadText, actor) => {
      this.exec(INSERT_JOB).run(
        job.id,
        job.type,
        job.name,
        payloadText,
        job.state,
        job.priority,
        job.runAt,
        job.attempts,
        job.maxAttempts,
        JSON.stringify(job.backoff),
        job.workflow,
        job.project,
        job.idempotencyKey,
        job.resourceKey,
        jsonList(job.tags),
        jsonList(job.dependsOn),
        job.timeoutMs,
        job.createdAt,
        job.updatedAt,
        actor,
        job.state,
      );
      for (const dep of job.dependsOn) {
        this.exec("INSERT OR IGNORE INTO job_deps (job_id, depends_on) VALUES (?, ?)").run(job.id, dep);
      }
    },
    updateJob: (id, patch) => {
      const { columns, values } = encodeJobPatch(patch);
      if (columns.length === 0) return;
      values.push(id);
      this.exec(this.updateSql(columns)).run(values);
    },
    deleteJob: (id) => {
      this.exec(STORE_ENQUEUED_EVENT).run(id);
      this.exec("DELETE FROM jobs WHERE id = ?").run(id);
    },
    insertAttempt: (a: AttemptRow) => {
      const row = this.exec(
        "INSERT INTO attempts (job_id, n, token, owner, started_at) VALUES (?, (SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE job_id = ?), ?, ?, ?) RETURNING n",
      ).get(a.jobId, a.jobId, a.token, a.owner, a.startedAt) as { n: number };
      return row.n;
    },
    nextAttempt: (jobId: string) => {
      const row = this.exec("SELECT coalesce(max(n), 0) + 1 AS n FROM attempts WHERE job_id = ?").get(
        jobId,
      ) as {
        n: number;
      };
      return row.n;
    },
    endAttempt: (jobId, _n, end) => {
      const row = this.exec(
        "UPDATE attempts SET ended_at = ?, outcome = ?, exit_code = ?, error = ? WHERE job_id = ? AND ended_at IS NULL RETURNING n",
      ).get(end.endedAt, end.outcome, end.exitCode, end.error, jobId) as { n: number } | undefined;
      return row?.n;
    },
    insertEvent: (e: Omit<JobEvent, "id">) => {
      this.exec(INSERT_EVENT).run(...eventValues(e));
    },
    jobStates: (ids) => {
      if (ids.length === 0) return [];
      return this.exec("SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(?))").all(
        JSON.stringify(ids),
      ) as { id: string; state: JobState }[];
    },
    waitingDependents: (jobId) =>
      this.jobRecords(
        this.exec(
          "SELECT j.* FROM job_deps d JOIN jobs j ON j.id = d.job_id WHERE d.depends_on = ? AND j.state = 'waiting'",
        ),
        jobId,
      ),
    dropDependency: (jobId, dependsOn) => {
      this.exec("DELETE FROM job_deps WHERE job_id = ? AND depends_on = ?").run(jobId, dependsOn);
    },
    finishedWithWaitingDependents: (finishedBefore, states) =>
      (
        this.exec(
          `SELECT j.id FROM jobs j WHERE j.state IN (SELECT value FROM json_each(?)) AND j.${NOT_CLAIMABLE} AND j.finished_at < ? AND ${HAS_WAITING_DEPENDENTS}`,
        ).all(JSON.stringify(states), finishedBefore) as { id: string }[]
      ).map((r) => r.id),
    candidates: (request, now, limit) => this.candidates(request, now, limit),
    expiredLeases: (now, limit) =>
      this.jobRecords(this.exec(sqlFile("sqlite", "expired_leases")), { now, limit }),
    liveWorkflowJobsBefore: (project, workflow, beforeId) =>
      this.jobRecords(
        this.exec(
          "SELECT * FROM jobs WHERE project IS ? AND workflow = ? AND id < ? AND state IN ('waiting','queued','running','retrying') ORDER BY id",
        ),
        project,
        workflow,
        beforeId,
      ),
    setPause: (scope, target, paused, now) => {
      const info = paused
        ? this.exec("INSERT OR IGNORE INTO pauses (scope, target, created_at) VALUES (?, ?, ?)").run(
            scope,
            target,
            now,
          )
        : this.exec("DELETE FROM pauses WHERE scope = ? AND target = ?").run(scope, target);
      return info.changes > 0;
    },
    getRequestWrite: (requestId, seq) =>
      this.exec("SELECT op, result FROM requests WHERE request_id = ? AND seq = ?").get(requestId, seq) as
        { op: string; result: string } | undefined,
    putRequestWrite: (row) => {
      this.exec("INSERT INTO requests (request_id, seq, op, result, created_at) VALUES (?, ?, ?, ?, ?)").run(
        row.requestId,
        row.seq,
        row.op,
        row.result,
        row.createdAt,
      );
    },
    pruneRequests: (before) => {
      this.exec("DELETE FROM requests WHERE created_at < ?").run(before);
    },
    getLock: (name) => {
      const row = this.exec("SELECT * FROM locks WHERE name = ?").get(name) as LockRow | undefined;
      return row === undefined ? undefined : toLock(row);
    },
    putLock: (lock) => {
      this.exec(
        "INSERT INTO locks (name, owner, token, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = excluded.token, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
      ).run(lock.name, lock.owner, lock.token, lock.acquiredAt, lock.expiresAt);
    },
    listLocks: (prefix) =>
      (
        this.exec("SELECT * FROM locks WHERE substr(name, 1, length(:p)) = :p ORDER BY name").all({
          p: prefix,
        }) as {
          name: string;
          owner: string;
          token: string;
          acquired_at: number;
          expires_at: number;
        }[]
      ).map((row) => ({
        name: row.name,
        owner: row.owner,
        token: row.token,
        acquiredAt: row.acquired_at,
        expiresAt: row.expires_at,
      })),
    deleteLock: (name) => {
      this.exec("DELETE FROM locks WHERE name = ?").run(name);
    },
    getSchedule: (key) => {
      const row = this.exec("SELECT * FROM schedules WHERE key = ?").get(key) as ScheduleRow | undefined;
      return row === undefined ? undefined : toSchedule(row);
    },
    putSchedule: (s) => {
      this.exec(
        `INSERT INTO schedules (${SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET config_path = excluded.config_path, task = excluded.task, cron = excluded.cron, last_slot = excluded.last_slot, last_fired_at = excluded.last_fired_at, disabled_at = excluded.disabled_at, updated_at = excluded.updated_at`,
      ).run(...scheduleValues(s));
    },
    deleteSchedule: (key) => this.exec("DELETE FROM schedules WHERE key = ?").run(key).changes > 0,
    listSchedules: () =>
      (this.exec("SELECT * FROM schedules ORDER BY key").all() as ScheduleRow[]).map(toSchedule),
    cleanFinished: (finishedBefore, states) => {
      const info = this.exec(
        `DELETE FROM jobs AS j WHERE state IN (SELECT value FROM json_each(?)) AND ${NOT_CLAIMABLE} AND finished_at < ? AND NOT ${HAS_WAITING_DEPENDENTS}`,
      ).run(JSON.stringify(states), finishedBefore);
      // The newest event is never deleted: event ids are max(id) + 1 (no AUTOINCREMENT since
      // migration 000005, D35), so keeping the newest row is what keeps ids from repeating.
      this.exec(
        "DELETE FROM events WHERE job_id IS NOT NULL AND job_id NOT IN (SELECT id FROM jobs) AND at < ? AND id < (SELECT max(id) FROM events)",
      ).run(finishedBefore);
      return info.changes;
    },
  };

  private candidates(request: ClaimRequest, now: number, limit: number): JobRecord[] {
    const pauses = this.stmt("SELECT scope, target FROM pauses WHERE scope IN ('all','type')").all() as {
      scope: PauseScope;
      target: string;
    }[];
    if (pauses.some((p) => p.scope === "all")) return [];
    const pausedTypes = new Set(pauses.map((p) => p.target));
    const workflow = request.workflow ?? null;
    const project = request.project ?? null;
    const excludedProjects = JSON.stringify(request.excludeProjects ?? []);
    const affinities = request.affinities === undefined ? null : JSON.stringify(request.affinities);
    // A claim that names no type claims from every claimable type (one index serves claims, D119).
    const types =
      request.types === undefined && request.typePrefixes === undefined
        ? (this.stmt(sqlFile("sqlite", "claimable_types")).pluck().all() as string[])
        : request.types;
    const rows: JobRecord[] = [];
    for (const prefix of new Set(request.typePrefixes ?? [])) {
      if (prefix === "") continue;
      // low <= type < high is "starts with prefix" in SQLite's bytewise (BINARY) collation.
      const high = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      rows.push(
        ...this.jobRecords(this.exec(sqlFile("sqlite", "claim_by_type_prefix")), {
          low: prefix,
          high,
          paused: JSON.stringify([...pausedTypes, ...(request.excludeTypes ?? [])]),
          now,
          workflow,
          project,
          excludedProjects,
          affinities,
          limit,
        }),
      );
    }
    for (const type of new Set(types ?? [])) {
      if (pausedTypes.has(type) || request.excludeTypes?.includes(type) === true) continue;
      rows.push(
        ...this.jobRecords(this.exec(sqlFile("sqlite", "claim_by_type")), {
          type,
          now,
          workflow,
          project,
          excludedProjects,
          affinities,
          limit,
        }),
      );
    }
    if ((types?.length ?? 0) + (request.typePrefixes?.length ?? 0) > 1) {
      rows.sort(
        (a, b) => b.priority - a.priority || a.runAt - b.runAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
    }
    return rows.slice(0, limit);
  }

  // --- reads ----------------------------------------------------------------------------------

  private read<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.withBusyRetry(fn));
    } catch (error) {
      return Promise.reject(translate(error, this.location));
    }
  }

  getJob(id: string): Promise<Job | undefined> {
    return this.read(() => {
      const job = this.jobRecords(this.stmt("SELECT * FROM jobs WHERE id = ?"), id)[0];
      return job === undefined ? undefined : publicJob(job);
    });
  }

  findJobs(reference: string, limit: number, project?: string) {
    const { prefix, suffix } = referenceKeys(reference);
    return this.read(() =>
      this.jobRecords(this.stmt(sqlFile("sqlite", "find_jobs")), {
        prefix,
        suffix,
        name: reference,
        project: project ?? null,
        limit,
      })
        .filter((job) => isCandidate(job, reference, project))
        .map(publicJob),
    );
  }

  /**
   * A job filter's WHERE, one per half of the states it asks for (D158): a filter by states that
   * are all claimable, or all not, is one part; one that mixes them is two, which the caller
   * combines (UNION ALL, or a sum), each read through its half's index. A filter naming a project
   * or a workflow stays one part, read through jobs_workflow as before.
   */
  private whereParts(filter: JobFilter): WherePart[] {
    const states = filter.states !== undefined && filter.states.length > 0 ? filter.states : undefined;
    // A filter that names a project or a workflow reads jobs_workflow, as before: one part, no
    // half term (two parts would each walk that project's entries).
    const byWorkflowIndex = filter.project !== undefined || typeof filter.workflow === "string";
    if (states === undefined || byWorkflowIndex)
      return [{ ...this.where(filter, undefined), claimable: undefined }];
    const halves: [boolean, readonly JobState[]][] = [
      [false, states.filter((s) => !isClaimable(s))],
      [true, states.filter(isClaimable)],
    ];
    return halves
      .filter(([, half]) => half.length > 0)
      .map(([claimable, half]) => {
        const { sql, params } = this.where(filter, { claimable, states: half });
        return { sql, params, claimable };
      });
  }

  private where(
    filter: JobFilter,
    half: { claimable: boolean; states: readonly JobState[] } | undefined,
  ): { sql: string; params: unknown[] } {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (half !== undefined) {
      clauses.push("state IN (SELECT value FROM json_each(?))", half.claimable ? CLAIMABLE : NOT_CLAIMABLE);
      params.push(JSON.stringify(half.states));
    } else if (filter.states !== undefined && filter.states.length > 0) {
      clauses.push("state IN (SELECT value FROM json_each(?))");
      params.push(JSON.stringify(filter.states));
    }
    if (filter.types !== undefined && filter.types.length > 0) {
      clauses.push("type IN (SELECT value FROM json_each(?))");
      params.push(JSON.stringify(filter.types));
    }
    if (filter.workflow === null) {
      clauses.push("workflow IS NULL");
    } else if (filter.workflow !== undefined) {
      clauses.push("workflow = ?");
      params.push(filter.workflow);
    }
    if (filter.project !== undefined) {
      clauses.push("project = ?");
      params.push(filter.project);
    }
    if (filter.tag !== undefined) {
      clauses.push("EXISTS (SELECT 1 FROM json_each(jobs.tags) t WHERE t.value = ?)");
      params.push(filter.tag);
    }
    if (filter.text !== undefined && filter.text !== "") {
      const pattern = `%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      clauses.push(
        "(id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\' OR payload LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\' OR evidence LIKE ? ESCAPE '\\')",
      );
      params.push(pattern, pattern, pattern, pattern, pattern);
    }
    if (filter.includeArchived !== true) clauses.push("archived_at IS NULL");
    if (filter.createdAfter !== undefined) {
      clauses.push("created_at >= ?");
      params.push(filter.createdAfter);
    }
    if (filter.createdBefore !== undefined) {
      clauses.push("created_at < ?");
      params.push(filter.createdBefore);
    }
    if (filter.finishedBefore !== undefined) {
      clauses.push("finished_at < ?");
      params.push(filter.finishedBefore);
    }
    if (filter.finishedAfter !== undefined) {
      clauses.push("finished_at >= ?");
      params.push(filter.finishedAfter);
    }
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "", params };
  }

  listJobs(filter: JobFilter, page: Page) {
    return this.read(() => {
      const order = page.order === "asc" ? "ASC" : "DESC";
      const parts = this.whereParts(filter);
      const params: unknown[] = [];
      const selects = parts.map((part) => {
        let where = part.sql;
        params.push(...part.params);
        if (page.after !== undefined) {
          where += `${where === "" ? "WHERE" : " AND"} id ${order === "ASC" ? ">" : "<"} ?`;
          params.push(page.after);
        }
        params.push(page.limit);
        // The claimable half: `+id` keeps SQLite from walking the whole primary key in id order
        // for a few queued jobs; it reads them from jobs_claim_type and sorts them, as it read
        // them from jobs_state before (D158).
        return `SELECT * FROM jobs ${where} ORDER BY ${part.claimable === true ? "+id" : "id"} ${order} LIMIT +?`;
      });
      let sql = selects[0]!;
      if (selects.length > 1) {
        sql = `${selects.map((s) => `SELECT * FROM (${s})`).join(" UNION ALL ")} ORDER BY id ${order} LIMIT +?`;
        params.push(page.limit);
      }
      return this.jobRecords(this.stmt(sql), ...params).map(publicJob);
    });
  }

  countJobs(filter: JobFilter): Promise<number> {
    return this.read(() => {
      const parts = this.whereParts(filter);
      const sql = parts.map((part) => `(SELECT count(*) FROM jobs ${part.sql})`).join(" + ");
      return (this.stmt(`SELECT ${sql} AS n`).get(...parts.flatMap((p) => p.params)) as { n: number }).n;
    });
  }

  countByState(filter: JobFilter): Promise<StateCount[]> {
    return this.read(() => {
      // The halves hold different states: their groups never meet. With no states asked for, one
      // statement over the table (it read every row through jobs_state before, and was no faster
      // for it: D158).
      const parts = this.whereParts(filter);
      const sql = parts
        .map((part) => `SELECT state, type, count(*) AS count FROM jobs ${part.sql} GROUP BY state, type`)
        .join(" UNION ALL ");
      return this.stmt(`${sql} ORDER BY state, type`).all(...parts.flatMap((p) => p.params)) as StateCount[];
    });
  }

  workflowCounts(filter: JobFilter): Promise<WorkflowCount[]> {
    return this.read(() => {
      const parts = this.whereParts(filter);
      const sql = parts
        .map((part) => {
          const where = `${part.sql === "" ? "WHERE" : `${part.sql} AND`} workflow IS NOT NULL`;
          return `SELECT project, workflow, state, count(*) AS count, max(updated_at) AS updatedAt FROM jobs ${where} GROUP BY project, workflow, state`;
        })
        .join(" UNION ALL ");
      return this.stmt(sql).all(...parts.flatMap((p) => p.params)) as WorkflowCount[];
    });
  }

  transitionCounts(since: number): Promise<TransitionCount[]> {
    return this.read(
      () =>
        this.stmt(
          "SELECT to_state AS state, count(*) AS count FROM history WHERE at >= ? AND to_state IS NOT NULL GROUP BY to_state ORDER BY to_state",
        ).all(since) as TransitionCount[],
    );
  }

  attempts(jobId: string): Promise<Attempt[]> {
    return this.read(() =>
      (this.stmt("SELECT * FROM attempts WHERE job_id = ? ORDER BY n").all(jobId) as AttemptRowSql[]).map(
        toAttempt,
      ),
    );
  }

  latestAttempts(jobIds: readonly string[]): Promise<Attempt[]> {
    return this.read(() =>
      (
        this.stmt(
          "SELECT a.* FROM attempts a JOIN (SELECT job_id, max(n) AS n FROM attempts WHERE job_id IN (SELECT value FROM json_each(?)) GROUP BY job_id) m ON a.job_id = m.job_id AND a.n = m.n",
        ).all(JSON.stringify(jobIds)) as AttemptRowSql[]
      ).map(toAttempt),
    );
  }

  events(filter: EventFilter): Promise<JobEvent[]> {
    return this.read(() => {
      const params: unknown[] = [];
      const sql = historySql(filter, {
        param: (value) => {
          params.push(value);
          return "?";
        },
        limit: (value) => {
          params.push(value);
          return "+?";
        },
        oneOf: (column, values) => {
          params.push(JSON.stringify(values));
          return `${column} IN (SELECT value FROM json_each(?))`;
        },
        limitEachSide: false,
        walkIdsForProject: true,
      });
      return (this.stmt(sql).all(...params) as EventRowSql[]).map(toEvent);
    });
  }

  blockingFacts(jobId: string): Promise<BlockingFacts> {
    return this.read(() => {
      const job = this.jobRecords(this.stmt("SELECT * FROM jobs WHERE id = ?"), jobId)[0];
      if (job === undefined) return { unfinishedDependencies: [], resourceHolder: null, pauses: [] };
      const deps = (
        this.stmt(
          "SELECT j.id, j.state FROM job_deps d JOIN jobs j ON j.id = d.depends_on WHERE d.job_id = ?",
        ).all(jobId) as { id: string; state: JobState }[]
      ).filter((d) => d.state !== "succeeded" && d.state !== "skipped");
      const holder =
        job.resourceKey === null
          ? undefined
          : (this.stmt(
              "SELECT id, state FROM jobs WHERE state = 'running' AND resource_key = ? AND id != ? LIMIT 1",
            ).get(job.resourceKey, jobId) as { id: string; state: JobState } | undefined);
      const pauses = (
        this.stmt("SELECT * FROM pauses").all() as { scope: string; target: string; created_at: number }[]
      )
        .map(toPause)
        .filter(
          (p) =>
            p.scope === "all" ||
            (p.scope === "type" && p.target === job.type) ||
            (p.scope === "workflow" && p.target === job.workflow),
        );
      return { unfinishedDependencies: deps, resourceHolder: holder ?? null, pauses };
    });
  }

  nextRunAt(): Promise<number | null> {
    return this.read(() => {
      const row = this.stmt(
        "SELECT min(run_at) AS t FROM jobs WHERE state IN ('queued','retrying')",
      ).get() as { t: number | null };
      return row.t;
    });
  }

  requestCall(requestId: string): Promise<{ op: string; seq: number; result: string } | undefined> {
    return this.read(
      () =>
        this.stmt("SELECT op, seq, result FROM requests WHERE request_id = ? ORDER BY seq LIMIT 1").get(
          requestId,
        ) as { op: string; seq: number; result: string } | undefined,
    );
  }

  pauses(): Promise<Pause[]> {
    return this.read(() =>
      (
        this.stmt("SELECT * FROM pauses ORDER BY created_at").all() as {
          scope: string;
          target: string;
          created_at: number;
        }[]
      ).map(toPause),
    );
  }

  /** PRAGMA integrity_check; "ok" when the file is sound. */
  integrityCheck(): string {
    return (this.db.pragma("integrity_check") as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join("; ");
  }

  /** Fold the WAL back into the database file and truncate it. */
  walCheckpoint(): void {
    this.db.pragma("wal_checkpoint(TRUNCATE)");
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Block this thread for `ms` (only on the rare BUSY-without-waiting paths, which are synchronous). */
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
