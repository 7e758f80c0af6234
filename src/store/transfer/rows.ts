/**
 * Raw row access to a ledger's tables, for `baton export` / `baton import`: the same tables and
 * columns in both dialects (sql/sqlite and sql/postgres), read in key order and written with
 * their ids, states and timestamps as they are. The stores' own API never writes an id or a
 * timestamp it did not make, so moving a ledger goes under it, on a connection of its own.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { BatonError } from "../../core/errors.js";
import { driverUrl } from "../../core/database-url.js";
import { translate as translatePg } from "../postgres/errors.js";
import { checkSslMode } from "../postgres/connection.js";
import { redactDatabaseUrl, validateSchemaName } from "../postgres/postgres-store.js";
import { translate as translateSqlite } from "../sqlite/errors.js";

export interface TableSpec {
  name: TableName;
  key: readonly string[];
  /** Columns in order; `int` columns are numbers (PostgreSQL BIGINT comes back as text). */
  columns: readonly (readonly [string, "int" | "text"])[];
}

export type TableName = "jobs" | "job_deps" | "attempts" | "events" | "pauses" | "schedules";
export type Row = Record<string, string | number | null>;

const t = (name: string): readonly [string, "text"] => [name, "text"];
const i = (name: string): readonly [string, "int"] => [name, "int"];

/**
 * The tables moved, in insert order (jobs before the rows that reference them). Locks are left
 * out on purpose: they belong to processes running against the old store (its daemon, agents'
 * registrations, task locks) and mean nothing on the new one.
 */
export const TABLES: readonly TableSpec[] = [
  {
    name: "jobs",
    key: ["id"],
    columns: [
      t("id"),
      t("type"),
      t("name"),
      t("payload"),
      t("state"),
      i("priority"),
      i("run_at"),
      i("attempts"),
      i("max_attempts"),
      t("backoff"),
      t("workflow"),
      t("project"),
      t("idempotency_key"),
      t("resource_key"),
      t("tags"),
      t("depends_on"),
      i("timeout_ms"),
      t("lease_owner"),
      t("lease_token"),
      i("lease_expires_at"),
      t("result"),
      t("evidence"),
      t("error"),
      i("created_at"),
      i("updated_at"),
      i("started_at"),
      i("finished_at"),
      i("archived_at"),
      // The job's derived `enqueued` event (schema 11, D152); null in rows from older ledgers.
      i("enqueue_id"),
      t("enqueue_actor"),
      t("enqueue_state"),
    ],
  },
  { name: "job_deps", key: ["job_id", "depends_on"], columns: [t("job_id"), t("depends_on")] },
  {
    name: "attempts",
    key: ["job_id", "n"],
    columns: [
      t("job_id"),
      i("n"),
      t("token"),
      t("owner"),
      i("started_at"),
      i("ended_at"),
      t("outcome"),
      i("exit_code"),
      t("error"),
    ],
  },
  {
    name: "events",
    key: ["id"],
    columns: [
      i("id"),
      t("job_id"),
      t("workflow"),
      t("project"),
      i("at"),
      t("actor"),
      t("kind"),
      t("from_state"),
      t("to_state"),
      t("details"),
    ],
  },
  { name: "pauses", key: ["scope", "target"], columns: [t("scope"), t("target"), i("created_at")] },
  {
    name: "schedules",
    key: ["key"],
    columns: [
      t("key"),
      t("config_path"),
      t("task"),
      t("cron"),
      i("last_slot"),
      i("last_fired_at"),
      i("disabled_at"),
      i("created_at"),
      i("updated_at"),
    ],
  },
];

export function tableSpec(name: string): TableSpec | undefined {
  return TABLES.find((s) => s.name === name);
}

/** A row with exactly the table's columns, each of its type (or null); undefined when malformed. */
export function normalizeRow(spec: TableSpec, raw: Record<string, unknown>): Row | undefined {
  const row: Row = {};
  for (const [column, type] of spec.columns) {
    const value = raw[column];
    if (value === null || value === undefined) row[column] = null;
    else if (type === "int") {
      const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) return undefined;
      row[column] = n;
    } else if (typeof value === "string") row[column] = value;
    else return undefined;
  }
  return spec.key.every((k) => row[k] !== null) ? row : undefined;
}

/** Raw access to one ledger's tables (already migrated). */
export interface LedgerRows {
  readonly kind: "sqlite" | "postgres";
  readonly location: string;
  schemaVersion(): Promise<number>;
  /** Up to `limit` rows after `after` (a key tuple; undefined: from the start), in key order. */
  page(spec: TableSpec, after: Row | undefined, limit: number): Promise<Row[]>;
  count(spec: TableSpec): Promise<number>;
  /**
   * Read everything after this from one consistent snapshot (SQLite: one read transaction;
   * PostgreSQL: REPEATABLE READ, READ ONLY) until {@link endSnapshot}.
   */
  beginSnapshot(): Promise<void>;
  endSnapshot(): Promise<void>;
  /** Jobs whose rows contradict each other (checked inside the import's transaction). */
  inconsistentJobs(): Promise<{ id: string; problem: string }[]>;
  begin(): Promise<void>;
  /** Insert rows; with `skipExisting`, rows whose key exists are left alone. Returns rows inserted. */
  insert(spec: TableSpec, rows: readonly Row[], skipExisting: boolean): Promise<number>;
  /** After events were inserted with their ids: new events continue after the largest id (stored or derived). */
  afterEvents(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Jobs whose state and attempts disagree: what an export read across transactions produced (a job
 * `running` whose attempt had ended, or finished with an attempt still open). Importing one and
 * recovering would run finished work again. Same SQL on both dialects. The redundant
 * `j.state NOT IN ('queued','retrying')` lets SQLite read its partial jobs_state (D158).
 */
const INCONSISTENT_JOBS = `
SELECT j.id, 'it is running but has no open attempt' AS problem FROM jobs j
 WHERE j.state = 'running' AND j.state NOT IN ('queued','retrying') AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = j.id AND a.ended_at IS NULL)
UNION ALL
SELECT j.id, 'it is ' || j.state || ' but an attempt of it is still open' AS problem FROM jobs j
 WHERE j.state <> 'running' AND EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = j.id AND a.ended_at IS NULL)
ORDER BY 1 LIMIT 10`;

function keyedQuery(spec: TableSpec, after: Row | undefined, limit: number, param: (n: number) => string) {
  const cols = spec.columns.map(([c]) => c).join(", ");
  const key = spec.key.join(", ");
  const where =
    after === undefined ? "" : `WHERE (${key}) > (${spec.key.map((_, n) => param(n + 1)).join(", ")})`;
  return {
    sql: `SELECT ${cols} FROM ${spec.name} ${where} ORDER BY ${key} LIMIT ${Math.trunc(limit)}`,
    keyValues: after === undefined ? [] : spec.key.map((k) => after[k]),
  };
}

/** Rows of the SQLite ledger file at `path`. */
export function sqliteRows(path: string): LedgerRows {
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (error) {
    throw translateSqlite(error, path);
  }
  db.pragma("busy_timeout = 10000");
  db.pragma("foreign_keys = ON");
  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(translateSqlite(error, path));
    }
  };
  return {
    kind: "sqlite",
    location: path,
    schemaVersion: () => guard(() => Number(db.pragma("user_version", { simple: true }))),
    page: (spec, after, limit) =>
      guard(() => {
        const q = keyedQuery(spec, after, limit, () => "?");
        return (db.prepare(q.sql).all(...q.keyValues) as Record<string, unknown>[]).map((r) =>
          normalizeRow(spec, r)!,
        );
      }),
    count: (spec) =>
      guard(() => (db.prepare(`SELECT count(*) AS n FROM ${spec.name}`).get() as { n: number }).n),
    // A deferred BEGIN takes its WAL snapshot at the first read and keeps it until COMMIT.
    beginSnapshot: () => guard(() => void db.exec("BEGIN")),
    endSnapshot: () => guard(() => void (db.inTransaction ? db.exec("COMMIT") : undefined)),
    inconsistentJobs: () =>
      guard(() => db.prepare(INCONSISTENT_JOBS).all() as { id: string; problem: string }[]),
    begin: () => guard(() => void db.exec("BEGIN IMMEDIATE")),
    insert: (spec, rows, skipExisting) =>
      guard(() => {
        const cols = spec.columns.map(([c]) => c);
        const stmt = db.prepare(
          `INSERT ${skipExisting ? "OR IGNORE " : ""}INTO ${spec.name} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
        );
        let inserted = 0;
        for (const row of rows) inserted += stmt.run(...cols.map((c) => row[c])).changes;
        return inserted;
      }),
    // AUTOINCREMENT keeps its high-water mark in sqlite_sequence, which explicit ids advance.
    afterEvents: () => Promise.resolve(),
    commit: () => guard(() => void db.exec("COMMIT")),
    rollback: () => guard(() => void (db.inTransaction ? db.exec("ROLLBACK") : undefined)),
    close: () => guard(() => void db.close()),
  };
}

/** Rows of the PostgreSQL ledger at `url`, schema `schema`. */
export async function postgresRows(url: string, schema: string): Promise<LedgerRows> {
  // Its own connection: the URL's TLS demand is checked as the store checks it (D127).
  checkSslMode(url);
  const location = redactDatabaseUrl(url);
  const client = new pg.Client({ connectionString: driverUrl(url), connectionTimeoutMillis: 10_000 });
  client.on("error", () => undefined);
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw translatePg(error, location);
    }
  };
  await guard(async () => {
    await client.connect();
    await client.query(`SET search_path TO "${validateSchemaName(schema)}"; SET statement_timeout = 0`);
  });
  return {
    kind: "postgres",
    location,
    schemaVersion: () =>
      guard(async () => {
        const { rows } = await client.query<{ v: string | null }>(
          "SELECT max(version)::text AS v FROM schema_migrations",
        );
        return Number(rows[0]?.v ?? 0);
      }),
    page: (spec, after, limit) =>
      guard(async () => {
        const q = keyedQuery(spec, after, limit, (n) => `$${n}`);
        const { rows } = await client.query<Record<string, unknown>>(q.sql, q.keyValues);
        return rows.map((r) => normalizeRow(spec, r)!);
      }),
    count: (spec) =>
      guard(async () => {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${spec.name}`);
        return Number(rows[0]!.n);
      }),
    beginSnapshot: () =>
      guard(async () => void (await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))),
    endSnapshot: () => guard(async () => void (await client.query("COMMIT"))),
    inconsistentJobs: () =>
      guard(async () => (await client.query<{ id: string; problem: string }>(INCONSISTENT_JOBS)).rows),
    begin: () => guard(async () => void (await client.query("BEGIN"))),
    insert: (spec, rows, skipExisting) =>
      guard(async () => {
        const cols = spec.columns.map(([c]) => c);
        let inserted = 0;
        // Multi-row inserts, under PostgreSQL's 65,535 parameters per statement.
        const chunk = Math.floor(30_000 / cols.length);
        for (let start = 0; start < rows.length; start += chunk) {
          const part = rows.slice(start, start + chunk);
          const values = part.map(
            (_, r) => `(${cols.map((_c, c) => `$${r * cols.length + c + 1}`).join(", ")})`,
          );
          const overriding = spec.name === "events" ? " OVERRIDING SYSTEM VALUE" : "";
          const conflict = skipExisting ? ` ON CONFLICT (${spec.key.join(", ")}) DO NOTHING` : "";
          const result = await client.query(
            `INSERT INTO ${spec.name} (${cols.join(", ")})${overriding} VALUES ${values.join(", ")}${conflict}`,
            part.flatMap((row) => cols.map((c) => row[c])),
          );
          inserted += result.rowCount ?? 0;
        }
        return inserted;
      }),
    afterEvents: () =>
      guard(async () => {
        await client.query(
          "SELECT setval(pg_get_serial_sequence('events', 'id'), greatest(m, 1), m IS NOT NULL) FROM (SELECT greatest((SELECT max(id) FROM events), (SELECT max(enqueue_id) FROM jobs)) AS m) AS top",
        );
        // has_dependents is derived, not exported: an imported job that others depend on must
        // take the completion path that releases them (sql/postgres/000004_dependents_flag.sql).
        await client.query(
          "UPDATE jobs SET has_dependents = true WHERE NOT has_dependents AND id IN (SELECT depends_on FROM job_deps)",
        );
      }),
    commit: () => guard(async () => void (await client.query("COMMIT"))),
    rollback: () => guard(async () => void (await client.query("ROLLBACK").catch(() => undefined))),
    close: () => guard(async () => void (await client.end())),
  };
}

/** The ledger is empty when it holds no jobs, events, pauses or schedules. */
export async function isEmptyLedger(rows: LedgerRows): Promise<boolean> {
  for (const spec of TABLES) if ((await rows.count(spec)) > 0) return false;
  return true;
}

/** A malformed export: which line, and what is wrong with it. */
export function badLine(line: number, message: string): BatonError {
  return new BatonError("INVALID_INPUT", `import line ${line}: ${message}`, { details: { line } });
}
