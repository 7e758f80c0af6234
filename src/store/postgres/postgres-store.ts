/**
 * The PostgreSQL store: the same ledger as SQLite, for teams and fleets (several processes and
 * hosts on one queue). The write logic is {@link LedgerStore}'s; this file supplies its row-level
 * primitives over one pooled connection per transaction, and the read queries.
 *
 * Concurrency model (READ COMMITTED, the server's default):
 * - every row a transaction changes is locked first (`FOR UPDATE`); claims and lease recovery lock
 *   with `SKIP LOCKED`, so claimers never wait on each other and never share a job;
 * - races that row locks cannot cover (two enqueues of one idempotency key, two claims of one
 *   resource) are settled by unique partial indexes: the loser's transaction is run again;
 * - serialization failures, deadlocks and broken connections re-run the whole transaction
 *   (bounded), except a COMMIT whose outcome is unknown, which is reported, never guessed.
 */
import { createHash } from "node:crypto";
import type { ClientBase, CustomTypesConfig, PoolClient, PoolConfig, QueryResultRow } from "pg";
import { Client, Pool, types as pgTypes } from "pg";
import type { Clock } from "../../core/clock.js";
import { systemClock } from "../../core/clock.js";
import { BatonError, InvalidInputError, SchemaTooNewError } from "../../core/errors.js";
import type { Attempt, Job, JobEvent } from "../../core/job.js";
import type { JobState } from "../../core/states.js";
import type { AttemptRow, LedgerTx } from "../ledger.js";
import { LedgerStore } from "../ledger.js";
import { publicJob } from "../records.js";
import { latestMigration, migrationFiles, sqlFile } from "../sql-files.js";
import type { AttemptRowSql, EventRowSql, JobRow, ScheduleRow } from "../sqlite/rows.js";
import { encodeJobPatch, toAttempt, toEvent, toJobRecord, toPause, toSchedule } from "../sqlite/rows.js";
import type {
  BlockingFacts,
  ClaimRequest,
  EventFilter,
  JobFilter,
  LockInfo,
  MigrationResult,
  Page,
  Pause,
  StateCount,
  WorkflowCount,
} from "../types.js";
import { classify, isConnectionError, translate } from "./errors.js";

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

/** Bounded retries of a whole transaction, per kind of failure. */
const RETRY_LIMITS = { contention: 30, connection: 6, stale_plan: 2 } as const;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The schema name, checked: it is spliced into SQL (quoted), so only plain identifiers pass. */
export function validateSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new InvalidInputError(
      `invalid PostgreSQL schema name '${schema}': use letters, digits and _ (not first), at most 63 characters`,
    );
  }
  return schema;
}

/** A double-quoted identifier (the name is validated first, so it holds no quote). */
function quoteIdent(name: string): string {
  return `"${validateSchemaName(name)}"`;
}

/**
 * A connection string fit to show: the password (in the userinfo or a `password=` parameter) is
 * replaced by `***`.
 */
export function redactDatabaseUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password !== "") url.password = "***";
    for (const key of [...url.searchParams.keys()]) {
      if (/^(password|sslpassword|sslkey)$/i.test(key)) url.searchParams.set(key, "***");
    }
    return url.toString();
  } catch {
    // Not a URL (a libpq key=value string, or a malformed URL): mask what looks like a secret.
    return connectionString
      .replace(/(password\s*=\s*)('[^']*'|\S+)/gi, "$1***")
      .replace(/(\/\/[^:/@\s]*:)[^@]*@/, "$1***@");
  }
}

/** BIGINT (ms times, counts) as JS numbers: every value baton stores fits in 2^53. Per pool, not global. */
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pgTypes.builtins.INT8
      ? (value: string) => Number(value)
      : pgTypes.getTypeParser(oid, format ?? "text")) as CustomTypesConfig["getTypeParser"],
};

const LIVE_STATES = "('waiting','queued','running','retrying')";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A short stable name per SQL text, so every connection prepares each statement once. */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `baton_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
}

type Queryable = Pick<ClientBase, "query">;

async function run<R extends QueryResultRow>(db: Queryable, text: string, values: unknown[] = []) {
  return db.query<R>({ name: statementName(text), text, values });
}

/** One registered wake-up listener and the client that LISTENs for it. */
class WakeListener {
  private client: Client | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private connectedOnce = false;

  constructor(
    private readonly config: PoolConfig,
    private readonly channel: string,
    private readonly emit: () => void,
    private readonly pingMs: number,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const client = new Client(this.config);
    this.client = client;
    let dead = false;
    const lost = () => {
      if (dead) return;
      dead = true;
      if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
      client.removeAllListeners("notification");
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (message) => {
      if (message.channel === this.channel) this.emit();
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${JSON.stringify(this.channel)}`))
      .then(() => {
        if (dead || this.stopped) {
          client.end().catch(() => undefined);
          return;
        }
        this.failures = 0;
        // Notifications sent while no one was listening are gone: wake once so the consumer looks.
        if (this.connectedOnce) this.emit();
        this.connectedOnce = true;
        // A half-open connection delivers nothing and reports nothing: ping it.
        this.pingTimer = setInterval(() => {
          client.query("SELECT 1").catch(lost);
        }, this.pingMs);
        this.pingTimer.unref();
      })
      .catch(lost);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(5000, 100 * 2 ** Math.min(this.failures - 1, 6));
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners("end");
      client.removeAllListeners("notification");
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
  }
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
  readonly schema: string;
  /** The LISTEN/NOTIFY channel of this ledger: `baton_<schema>`. */
  readonly channel: string;
  private readonly pool: Pool;
  private readonly clientConfig: PoolConfig;
  private readonly wakeListeners = new Set<() => void>();
  private listener: WakeListener | undefined;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    super(options.clock ?? systemClock, options.random);
    this.schema = validateSchemaName(options.schema ?? "baton");
    this.location = redactDatabaseUrl(options.connectionString);
    const channel = `baton_${this.schema}`;
    this.channel =
      Buffer.byteLength(channel) <= 63
        ? channel
        : `baton_${createHash("sha1").update(this.schema).digest("hex").slice(0, 32)}`;
    const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
    if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 0) {
      throw new InvalidInputError(
        `statementTimeoutMs must be a non-negative integer, not ${statementTimeoutMs}`,
      );
    }
    const idleInTransactionMs = statementTimeoutMs === 0 ? 0 : Math.max(60_000, 2 * statementTimeoutMs);
    const setup =
      `SET search_path TO ${quoteIdent(this.schema)}; ` +
      `SET statement_timeout = ${statementTimeoutMs}; ` +
      `SET idle_in_transaction_session_timeout = ${idleInTransactionMs}`;
    this.clientConfig = {
      connectionString: options.connectionString,
      application_name: "baton",
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // A half-open connection (a black-holed network) answers nothing and reports nothing: give up
      // on a query a little after the server would have cancelled it, and retry on a new connection.
      ...(statementTimeoutMs === 0 ? {} : { query_timeout: statementTimeoutMs + 5000 }),
      types: TYPES,
    };
    this.pool = new Pool({
      ...this.clientConfig,
      max: options.poolSize ?? 10,
      idleTimeoutMillis: 30_000,
      // Per connection, before its first use: the schema and the timeouts. pg-pool awaits the
      // promise (pg-pool/index.js, `_promiseTry(onConnect)`); @types/pg declares it void.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises
      onConnect: (client: ClientBase) => {
        // pg-pool listens for a client's 'error' only while it is idle; one that dies while checked
        // out (pg_terminate_backend, a server restart) would otherwise crash the process. Its next
        // query fails as a connection error and the transaction is retried on a fresh connection.
        client.on("error", () => undefined);
        return client.query(setup).then(() => undefined);
      },
    });
    // An idle connection that dies (server restart, network) is dropped by the pool; without a
    // listener the 'error' event would crash the process.
    this.pool.on("error", () => undefined);
  }

  // --- schema ---------------------------------------------------------------------------------

  async schemaVersion(): Promise<number> {
    try {
      const { rows } = await this.read<{ v: number | null }>(
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
    return this.transaction(async (client) => {
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
    if (this.closed) return;
    this.closed = true;
    this.wakeListeners.clear();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
    await this.pool.end();
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
    if (this.closed) throw new BatonError("STORE_UNAVAILABLE", `the store at ${this.location} is closed`);
    this.wakeListeners.add(listener);
    this.listener ??= new WakeListener(
      this.clientConfig,
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

  // --- transactions ---------------------------------------------------------------------------

  /**
   * Run `fn` in BEGIN … COMMIT on one pooled connection, re-running the whole transaction on
   * contention and on connection failures before COMMIT (bounded). A connection lost during
   * COMMIT leaves the outcome unknown: that is STORE_UNAVAILABLE, not a retry.
   */
  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new BatonError("STORE_UNAVAILABLE", `the store at ${this.location} is closed`);
    const counts = { contention: 0, connection: 0, stale_plan: 0 };
    for (;;) {
      let client: PoolClient | undefined;
      let committing = false;
      try {
        client = await this.pool.connect();
        await client.query("BEGIN");
        const result = await fn(client);
        committing = true;
        await client.query("COMMIT");
        client.release();
        return result;
      } catch (error) {
        if (client !== undefined) await this.discard(client, error);
        const kind = classify(error);
        if (kind === "fatal") throw translate(error, this.location);
        if (committing && kind === "connection") {
          throw new BatonError(
            "STORE_UNAVAILABLE",
            `the connection to ${this.location} broke during COMMIT: the change may or may not have been saved`,
            { cause: error },
          );
        }
        counts[kind]++;
        if (counts[kind] > RETRY_LIMITS[kind]) throw translate(error, this.location);
        await sleep(this.retryDelay(kind, counts[kind]));
      }
    }
  }

  private retryDelay(kind: "contention" | "connection" | "stale_plan", attempt: number): number {
    if (kind === "connection") return Math.min(2000, 50 * 2 ** attempt);
    if (kind === "stale_plan") return 0;
    return Math.min(50, 2 * attempt) * (0.5 + this.random());
  }

  /** Roll back and give the connection back; a broken one is destroyed, not reused. */
  private async discard(client: PoolClient, error: unknown): Promise<void> {
    const broken = isConnectionError(error) || classify(error) === "stale_plan";
    if (!broken) {
      try {
        await client.query("ROLLBACK");
        client.release();
        return;
      } catch {
        // fall through: the connection is unusable
      }
    }
    client.release(true);
  }

  /** A read outside any transaction; retried on a fresh connection when the connection fails. */
  private async read<R extends QueryResultRow>(text: string, values: unknown[] = []) {
    if (this.closed) throw new BatonError("STORE_UNAVAILABLE", `the store at ${this.location} is closed`);
    const counts = { contention: 0, connection: 0, stale_plan: 0 };
    for (;;) {
      try {
        return await run<R>(this.pool, text, values);
      } catch (error) {
        const kind = classify(error);
        if (kind === "fatal" || kind === "contention") throw translate(error, this.location);
        counts[kind]++;
        if (counts[kind] > RETRY_LIMITS[kind]) throw translate(error, this.location);
        await sleep(this.retryDelay(kind, counts[kind]));
      }
    }
  }

  protected write<T>(fn: (tx: LedgerTx) => Promise<T>): Promise<T> {
    return this.transaction(async (client) => {
      const state = { wake: false, lockDependencies: true };
      const result = await fn(this.tx(client, state));
      // Delivered to listeners on COMMIT, and only then.
      if (state.wake) await run(client, "SELECT pg_notify($1, '')", [this.channel]);
      return result;
    });
  }

  /** The ledger primitives over one transaction's connection. */
  private tx(client: PoolClient, state: { wake: boolean; lockDependencies: boolean }): LedgerTx {
    const rows = async (text: string, values: unknown[] = []) =>
      (await run<JobRow>(client, text, values)).rows.map(toJobRecord);
    return {
      savepoint: async (fn) => {
        await run(client, "SAVEPOINT batch_item");
        let result;
        try {
          result = await fn();
        } catch (error) {
          // A broken connection fails the whole transaction anyway; otherwise undo this item only.
          if (!isConnectionError(error)) await run(client, "ROLLBACK TO SAVEPOINT batch_item");
          throw error;
        }
        await run(client, "RELEASE SAVEPOINT batch_item");
        return result;
      },
      getJob: async (id) => (await rows("SELECT * FROM jobs WHERE id = $1 FOR UPDATE", [id]))[0],
      findLiveByKey: async (key) =>
        (await rows(`SELECT * FROM jobs WHERE idempotency_key = $1 AND state IN ${LIVE_STATES}`, [key]))[0],
      insertJob: async (job, payloadText) => {
        const { columns, values } = encodeJobPatch(job);
        // The payload exactly as the engine validated and measured it (as SQLite stores it).
        values[columns.indexOf("payload")] = payloadText;
        await run(
          client,
          `INSERT INTO jobs (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
          values,
        );
        if (job.dependsOn.length > 0) {
          await run(
            client,
            "INSERT INTO job_deps (job_id, depends_on) SELECT $1, d FROM unnest($2::text[]) AS d ON CONFLICT DO NOTHING",
            [job.id, job.dependsOn],
          );
        }
        if (job.state === "queued") state.wake = true;
      },
      updateJob: async (id, patch) => {
        const { columns, values } = encodeJobPatch(patch);
        if (columns.length === 0) return;
        await run(
          client,
          `UPDATE jobs SET ${columns.map((c, i) => `${c} = $${i + 1}`).join(", ")} WHERE id = $${columns.length + 1}`,
          [...values, id],
        );
        if (patch.state === "queued") state.wake = true;
      },
      deleteJob: async (id) => {
        await run(client, "DELETE FROM jobs WHERE id = $1", [id]);
      },
      insertAttempt: async (a: AttemptRow) => {
        // Numbered after the job's earlier attempts (see LedgerTx.insertAttempt); the job row is locked.
        const result = await run(
          client,
          "INSERT INTO attempts (job_id, n, token, owner, started_at) VALUES ($1, (SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE job_id = $1), $2, $3, $4) RETURNING n",
          [a.jobId, a.token, a.owner, a.startedAt],
        );
        return Number((result.rows[0] as { n: number | string }).n);
      },
      endAttempt: async (jobId, _n, end) => {
        // The open attempt, not attempt number n: the job's attempt count goes down again on
        // release and redrive, so it does not name the row (see LedgerTx.insertAttempt).
        await run(
          client,
          "UPDATE attempts SET ended_at = $1, outcome = $2, exit_code = $3, error = $4 WHERE job_id = $5 AND ended_at IS NULL",
          [end.endedAt, end.outcome, end.exitCode, end.error, jobId],
        );
      },
      insertEvent: async (e: Omit<JobEvent, "id">) => {
        await run(
          client,
          "INSERT INTO events (job_id, workflow, project, at, actor, kind, from_state, to_state, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
          [
            e.jobId,
            e.workflow,
            e.project,
            e.at,
            e.actor,
            e.kind,
            e.fromState,
            e.toState,
            e.details === null ? null : JSON.stringify(e.details),
          ],
        );
      },
      jobStates: async (ids) => {
        if (ids.length === 0) return [];
        // Enqueue reads its dependencies' states under FOR SHARE: a dependency cannot then finish
        // unseen between this read and our COMMIT (its finisher would look for waiting dependents
        // before ours is visible, and ours would wait forever). Once this transaction has locked a
        // dependent (waitingDependents), states are read without locks: that lock already orders
        // the finishers of its dependencies, and locking here would deadlock two of them.
        const lock = state.lockDependencies ? " ORDER BY id FOR SHARE" : "";
        return (
          await run<{ id: string; state: JobState }>(
            client,
            `SELECT id, state FROM jobs WHERE id = ANY ($1::text[])${lock}`,
            [ids],
          )
        ).rows;
      },
      waitingDependents: async (jobId) => {
        state.lockDependencies = false;
        return rows(
          "SELECT j.* FROM job_deps d JOIN jobs j ON j.id = d.job_id WHERE d.depends_on = $1 AND j.state = 'waiting' ORDER BY j.id FOR UPDATE OF j",
          [jobId],
        );
      },
      candidates: (request, now, limit) => this.candidates(client, request, now, limit),
      expiredLeases: (now, limit) => rows(sqlFile("postgres", "expired_leases"), [now, limit]),
      liveWorkflowJobsBefore: (project, workflow, beforeId) =>
        rows(
          `SELECT * FROM jobs WHERE project IS NOT DISTINCT FROM $1 AND workflow = $2 AND id < $3 AND state IN ${LIVE_STATES} ORDER BY id FOR UPDATE`,
          [project, workflow, beforeId],
        ),
      setPause: async (scope, target, paused, now) => {
        const result = paused
          ? await run(
              client,
              "INSERT INTO pauses (scope, target, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
              [scope, target, now],
            )
          : await run(client, "DELETE FROM pauses WHERE scope = $1 AND target = $2", [scope, target]);
        return (result.rowCount ?? 0) > 0;
      },
      getLock: async (name) => {
        // Serialise writers of one lock name, whether or not its row exists yet.
        await run(client, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
          `baton:lock:${this.schema}:${name}`,
        ]);
        const { rows: found } = await run<{
          name: string;
          owner: string;
          token: string;
          acquired_at: number;
          expires_at: number;
        }>(client, "SELECT * FROM locks WHERE name = $1", [name]);
        const row = found[0];
        return row === undefined
          ? undefined
          : ({
              name: row.name,
              owner: row.owner,
              token: row.token,
              acquiredAt: row.acquired_at,
              expiresAt: row.expires_at,
            } satisfies LockInfo);
      },
      putLock: async (lock) => {
        await run(
          client,
          "INSERT INTO locks (name, owner, token, acquired_at, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = excluded.token, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
          [lock.name, lock.owner, lock.token, lock.acquiredAt, lock.expiresAt],
        );
      },
      listLocks: async (prefix) => {
        const { rows } = await run<{
          name: string;
          owner: string;
          token: string;
          acquired_at: number | string;
          expires_at: number | string;
        }>(client, "SELECT * FROM locks WHERE left(name, length($1)) = $1 ORDER BY name", [prefix]);
        return rows.map((row) => ({
          name: row.name,
          owner: row.owner,
          token: row.token,
          acquiredAt: Number(row.acquired_at),
          expiresAt: Number(row.expires_at),
        }));
      },
      deleteLock: async (name) => {
        await run(client, "DELETE FROM locks WHERE name = $1", [name]);
      },
      getSchedule: async (key) => {
        const { rows: found } = await run<ScheduleRow>(
          client,
          "SELECT * FROM schedules WHERE key = $1 FOR UPDATE",
          [key],
        );
        return found[0] === undefined ? undefined : toSchedule(found[0]);
      },
      putSchedule: async (s) => {
        await run(
          client,
          "INSERT INTO schedules (key, config_path, task, cron, last_slot, last_fired_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO UPDATE SET config_path = excluded.config_path, task = excluded.task, cron = excluded.cron, last_slot = excluded.last_slot, last_fired_at = excluded.last_fired_at, updated_at = excluded.updated_at",
          [s.key, s.configPath, s.task, s.cron, s.lastSlot, s.lastFiredAt, s.createdAt, s.updatedAt],
        );
      },
      deleteSchedule: async (key) =>
        ((await run(client, "DELETE FROM schedules WHERE key = $1", [key])).rowCount ?? 0) > 0,
      listSchedules: async () =>
        (await run<ScheduleRow>(client, "SELECT * FROM schedules ORDER BY key")).rows.map(toSchedule),
      cleanFinished: async (finishedBefore, states) => {
        const result = await run(
          client,
          "DELETE FROM jobs WHERE state = ANY ($1::text[]) AND finished_at < $2",
          [states, finishedBefore],
        );
        await run(
          client,
          "DELETE FROM events e WHERE e.job_id IS NOT NULL AND e.at < $1 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id)",
          [finishedBefore],
        );
        return result.rowCount ?? 0;
      },
    };
  }

  /**
   * Mirrors SqliteStore's candidates: with neither `types` nor `typePrefixes`, any type not
   * excluded; otherwise only the union of the named types and the prefixes (an empty list of both
   * claims nothing). Several queries are merged in claim order; rows a query read but the merge
   * cut stay locked until COMMIT (other claimers skip them meanwhile).
   */
  private async candidates(client: PoolClient, request: ClaimRequest, now: number, limit: number) {
    const workflow = request.workflow ?? null;
    const project = request.project ?? null;
    const excludedProjects = [...(request.excludeProjects ?? [])];
    const excludedTypes = [...(request.excludeTypes ?? [])];
    const affinities = request.affinities === undefined ? null : [...request.affinities];
    if (request.types === undefined && request.typePrefixes === undefined) {
      const { rows } = await run<JobRow>(client, sqlFile("postgres", "claim_any"), [
        now,
        excludedTypes,
        workflow,
        project,
        excludedProjects,
        limit,
        affinities,
      ]);
      return rows.map(toJobRecord);
    }
    const merged: JobRow[] = [];
    let queries = 0;
    for (const prefix of new Set(request.typePrefixes ?? [])) {
      if (prefix === "") continue;
      queries++;
      const { rows } = await run<JobRow>(client, sqlFile("postgres", "claim_by_type_prefix"), [
        prefix,
        now,
        workflow,
        project,
        excludedProjects,
        limit,
        excludedTypes,
        affinities,
      ]);
      merged.push(...rows);
    }
    const excluded = new Set(excludedTypes);
    const types = [...new Set(request.types ?? [])].filter((type) => !excluded.has(type));
    if (types.length > 0) {
      queries++;
      const { rows } = await run<JobRow>(client, sqlFile("postgres", "claim_by_type"), [
        types,
        now,
        workflow,
        project,
        excludedProjects,
        limit,
        affinities,
      ]);
      merged.push(...rows);
    }
    if (queries > 1) {
      merged.sort(
        (a, b) => b.priority - a.priority || a.run_at - b.run_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
    }
    return merged.slice(0, limit).map(toJobRecord);
  }

  // --- reads ----------------------------------------------------------------------------------

  private publicRows(rows: JobRow[]): Job[] {
    return rows.map((row) => {
      return publicJob(toJobRecord(row));
    });
  }

  async getJob(id: string): Promise<Job | undefined> {
    return this.publicRows((await this.read<JobRow>("SELECT * FROM jobs WHERE id = $1", [id])).rows)[0];
  }

  async findJobs(prefixOrName: string, limit: number): Promise<Job[]> {
    const prefix = prefixOrName.toUpperCase();
    const { rows } = await this.read<JobRow>(
      "SELECT * FROM jobs WHERE (id >= $1 AND id < $1 || 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ') OR name = $2 ORDER BY id DESC LIMIT $3",
      [prefix, prefixOrName, limit],
    );
    return this.publicRows(rows.filter((row) => row.id.startsWith(prefix) || row.name === prefixOrName));
  }

  private where(filter: JobFilter, params: unknown[]): string {
    const clauses: string[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.states !== undefined && filter.states.length > 0) {
      clauses.push(`state = ANY (${param([...filter.states])}::text[])`);
    }
    if (filter.types !== undefined && filter.types.length > 0) {
      clauses.push(`type = ANY (${param([...filter.types])}::text[])`);
    }
    if (filter.workflow === null) clauses.push("workflow IS NULL");
    else if (filter.workflow !== undefined) clauses.push(`workflow = ${param(filter.workflow)}`);
    if (filter.project !== undefined) clauses.push(`project = ${param(filter.project)}`);
    if (filter.tag !== undefined) {
      // Compared as JSON text (json keeps each element's text as written): exact, and safe for
      // tags jsonb would refuse (lone surrogates).
      clauses.push(
        `EXISTS (SELECT 1 FROM json_array_elements(jobs.tags::json) AS t(value) WHERE t.value::text = ${param(JSON.stringify(filter.tag))})`,
      );
    }
    if (filter.text !== undefined && filter.text !== "") {
      // ILIKE: case-insensitive like SQLite's LIKE; the metacharacters of the needle are escaped.
      const p = param(`%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      clauses.push(
        `(id ILIKE ${p} ESCAPE '\\' OR name ILIKE ${p} ESCAPE '\\' OR payload ILIKE ${p} ESCAPE '\\' OR error ILIKE ${p} ESCAPE '\\' OR evidence ILIKE ${p} ESCAPE '\\')`,
      );
    }
    if (filter.includeArchived !== true) clauses.push("archived_at IS NULL");
    if (filter.createdAfter !== undefined) clauses.push(`created_at >= ${param(filter.createdAfter)}`);
    if (filter.createdBefore !== undefined) clauses.push(`created_at < ${param(filter.createdBefore)}`);
    if (filter.finishedBefore !== undefined) clauses.push(`finished_at < ${param(filter.finishedBefore)}`);
    return clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "";
  }

  async listJobs(filter: JobFilter, page: Page): Promise<Job[]> {
    const params: unknown[] = [];
    let where = this.where(filter, params);
    const order = page.order === "asc" ? "ASC" : "DESC";
    if (page.after !== undefined) {
      params.push(page.after);
      where += `${where === "" ? "WHERE" : " AND"} id ${order === "ASC" ? ">" : "<"} $${params.length}`;
    }
    params.push(page.limit);
    const { rows } = await this.read<JobRow>(
      `SELECT * FROM jobs ${where} ORDER BY id ${order} LIMIT $${params.length}`,
      params,
    );
    return this.publicRows(rows);
  }

  async countJobs(filter: JobFilter): Promise<number> {
    const params: unknown[] = [];
    const { rows } = await this.read<{ n: number }>(
      `SELECT count(*) AS n FROM jobs ${this.where(filter, params)}`,
      params,
    );
    return rows[0]?.n ?? 0;
  }

  async countByState(filter: JobFilter): Promise<StateCount[]> {
    const params: unknown[] = [];
    const { rows } = await this.read<StateCount>(
      `SELECT state, type, count(*) AS count FROM jobs ${this.where(filter, params)} GROUP BY state, type ORDER BY state, type`,
      params,
    );
    return rows;
  }

  async workflowCounts(filter: JobFilter): Promise<WorkflowCount[]> {
    const params: unknown[] = [];
    const sql = this.where(filter, params);
    const where = `${sql === "" ? "WHERE" : `${sql} AND`} workflow IS NOT NULL`;
    const { rows } = await this.read<WorkflowCount>(
      `SELECT project, workflow, state, count(*) AS count, max(updated_at) AS "updatedAt" FROM jobs ${where} GROUP BY project, workflow, state`,
      params,
    );
    return rows;
  }

  async attempts(jobId: string): Promise<Attempt[]> {
    const { rows } = await this.read<AttemptRowSql>("SELECT * FROM attempts WHERE job_id = $1 ORDER BY n", [
      jobId,
    ]);
    return rows.map(toAttempt);
  }

  async events(filter: EventFilter): Promise<JobEvent[]> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.jobId !== undefined) clauses.push(`job_id = ${param(filter.jobId)}`);
    if (filter.workflow !== undefined) clauses.push(`workflow = ${param(filter.workflow)}`);
    if (filter.project !== undefined) clauses.push(`project = ${param(filter.project)}`);
    if (filter.types !== undefined && filter.types.length > 0) {
      clauses.push(`job_id IN (SELECT id FROM jobs WHERE type = ANY (${param([...filter.types])}::text[]))`);
    }
    if (filter.since !== undefined) clauses.push(`at >= ${param(filter.since)}`);
    if (filter.until !== undefined) clauses.push(`at < ${param(filter.until)}`);
    if (filter.afterId !== undefined) clauses.push(`id > ${param(filter.afterId)}`);
    const where = clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "";
    const limit = param(filter.limit);
    const { rows } = await this.read<EventRowSql>(
      `SELECT * FROM events ${where} ORDER BY id ${filter.order === "desc" ? "DESC" : "ASC"} LIMIT ${limit}`,
      params,
    );
    return rows.map(toEvent);
  }

  async blockingFacts(jobId: string): Promise<BlockingFacts> {
    const { rows } = await this.read<JobRow>("SELECT * FROM jobs WHERE id = $1", [jobId]);
    const row = rows[0];
    if (row === undefined) return { unfinishedDependencies: [], resourceHolder: null, pauses: [] };
    const job = toJobRecord(row);
    const deps = (
      await this.read<{ id: string; state: JobState }>(
        "SELECT j.id, j.state FROM job_deps d JOIN jobs j ON j.id = d.depends_on WHERE d.job_id = $1 ORDER BY d.depends_on",
        [jobId],
      )
    ).rows.filter((d) => d.state !== "succeeded" && d.state !== "skipped");
    const holder =
      job.resourceKey === null
        ? undefined
        : (
            await this.read<{ id: string; state: JobState }>(
              "SELECT id, state FROM jobs WHERE state = 'running' AND resource_key = $1 AND id <> $2 LIMIT 1",
              [job.resourceKey, jobId],
            )
          ).rows[0];
    const pauses = (await this.pauses()).filter(
      (p) =>
        p.scope === "all" ||
        (p.scope === "type" && p.target === job.type) ||
        (p.scope === "workflow" && p.target === job.workflow),
    );
    return { unfinishedDependencies: deps, resourceHolder: holder ?? null, pauses };
  }

  async nextRunAt(): Promise<number | null> {
    const { rows } = await this.read<{ t: number | null }>(
      "SELECT min(run_at) AS t FROM jobs WHERE state IN ('queued','retrying')",
    );
    return rows[0]?.t ?? null;
  }

  async pauses(): Promise<Pause[]> {
    const { rows } = await this.read<{ scope: string; target: string; created_at: number }>(
      "SELECT * FROM pauses ORDER BY created_at",
    );
    return rows.map(toPause);
  }
}
