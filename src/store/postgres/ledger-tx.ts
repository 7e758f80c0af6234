/**
 * The row-level primitives of {@link LedgerTx} over one PostgreSQL transaction's connection: the
 * general write path (every operation; the hot ones usually take fast-paths.ts instead), and the
 * claim candidates queries.
 */
import type { PoolClient } from "pg";
import type { JobEvent } from "../../core/job.js";
import type { JobState } from "../../core/states.js";
import type { AttemptRow, LedgerTx } from "../ledger.js";
import { EVENT_COLUMNS, eventValues } from "../records.js";
import { sqlFile } from "../sql-files.js";
import type { JobRow, LockRow, ScheduleRow } from "../sqlite/rows.js";
import {
  encodeJobPatch,
  SCHEDULE_COLUMNS,
  scheduleValues,
  toJobRecord,
  toLock,
  toSchedule,
} from "../sqlite/rows.js";
import type { ClaimRequest } from "../types.js";
import { run } from "./connection.js";
import { isConnectionError } from "./errors.js";

/** SQL: the job `j` has waiting dependents (a finished job they need must not be cleaned). */
const HAS_WAITING_DEPENDENTS =
  "EXISTS (SELECT 1 FROM job_deps d JOIN jobs w ON w.id = d.job_id WHERE d.depends_on = j.id AND w.state = 'waiting')";

export const LIVE_STATES = "('waiting','queued','running','retrying')";

/** What one write transaction remembers between primitives. */
export interface TxState {
  /** Some job became claimable: NOTIFY the ledger's channel before COMMIT. */
  wake: boolean;
  /** Dependencies' states are still read under lock (see jobStates). */
  lockDependencies: boolean;
}

/** A derived `enqueued` event's id: the next of the events' own sequence (D152). */
export const NEXT_EVENT_ID = "nextval(pg_get_serial_sequence('events', 'id'))";
/** A job's derived `enqueued` event as a stored row, before the job row goes (D152). */
const STORE_ENQUEUED_EVENT = `INSERT INTO events (id, ${EVENT_COLUMNS}) OVERRIDING SYSTEM VALUE
  SELECT enqueue_id, id, workflow, project, created_at, enqueue_actor, 'enqueued', NULL, enqueue_state, NULL
  FROM jobs WHERE id = $1 AND enqueue_id IS NOT NULL`;

/** The ledger primitives over one transaction's connection; `schema` names its advisory locks. */
export function ledgerTx(client: PoolClient, state: TxState, schema: string): LedgerTx {
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
    findNewestByKey: async (key) =>
      (await rows(`SELECT * FROM jobs WHERE idempotency_key = $1 ORDER BY id DESC LIMIT 1`, [key]))[0],
    insertJob: async (job, payloadText, actor) => {
      const { columns, values } = encodeJobPatch(job);
      // The payload exactly as the engine validated and measured it (as SQLite stores it).
      values[columns.indexOf("payload")] = payloadText;
      // The job's `enqueued` event is derived from its row, whose enqueue_id the events' own
      // sequence hands out (migration 000011, D152).
      columns.push("enqueue_actor", "enqueue_state");
      values.push(actor, job.state);
      await run(
        client,
        `INSERT INTO jobs (${columns.join(", ")}, enqueue_id) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")}, ${NEXT_EVENT_ID})`,
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
      await run(client, STORE_ENQUEUED_EVENT, [id]);
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
    nextAttempt: async (jobId: string) => {
      const result = await run(
        client,
        "SELECT coalesce(max(n), 0) + 1 AS n FROM attempts WHERE job_id = $1",
        [jobId],
      );
      return Number((result.rows[0] as { n: number | string }).n);
    },
    endAttempt: async (jobId, _n, end) => {
      // The open attempt, not attempt number n: the job's attempt count goes down again on
      // release and redrive, so it does not name the row (see LedgerTx.insertAttempt).
      const result = await run(
        client,
        "UPDATE attempts SET ended_at = $1, outcome = $2, exit_code = $3, error = $4 WHERE job_id = $5 AND ended_at IS NULL RETURNING n",
        [end.endedAt, end.outcome, end.exitCode, end.error, jobId],
      );
      const row = result.rows[0] as { n: number | string } | undefined;
      return row === undefined ? undefined : Number(row.n);
    },
    insertEvent: async (e: Omit<JobEvent, "id">) => {
      await run(
        client,
        `INSERT INTO events (${EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        eventValues(e),
      );
    },
    jobStates: async (ids) => {
      if (ids.length === 0) return [];
      if (!state.lockDependencies) {
        // Once this transaction has locked a dependent (waitingDependents), states are read
        // without locks: that lock already orders the finishers of its dependencies, and locking
        // here would deadlock two of them.
        return (
          await run<{ id: string; state: JobState }>(
            client,
            "SELECT id, state FROM jobs WHERE id = ANY ($1::text[])",
            [ids],
          )
        ).rows;
      }
      // Enqueue reads its dependencies' states under a row lock: a dependency cannot then finish
      // unseen between this read and our COMMIT (its finisher would look for waiting dependents
      // before ours is visible, and ours would wait forever). It also marks them has_dependents,
      // which sends their completion down the general path (migration 000004 says why).
      return (
        await run<{ id: string; state: JobState }>(
          client,
          "WITH locked AS (SELECT id FROM jobs WHERE id = ANY ($1::text[]) ORDER BY id FOR NO KEY UPDATE) UPDATE jobs SET has_dependents = true FROM locked WHERE jobs.id = locked.id RETURNING jobs.id, jobs.state",
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
    dropDependency: async (jobId, dependsOn) => {
      await run(client, "DELETE FROM job_deps WHERE job_id = $1 AND depends_on = $2", [jobId, dependsOn]);
    },
    finishedWithWaitingDependents: async (finishedBefore, states) =>
      (
        await run<{ id: string }>(
          client,
          `SELECT j.id FROM jobs j WHERE j.state = ANY ($1::text[]) AND j.finished_at < $2 AND ${HAS_WAITING_DEPENDENTS} ORDER BY j.id FOR UPDATE OF j`,
          [states, finishedBefore],
        )
      ).rows.map((r) => r.id),
    candidates: (request, now, limit) => candidates(client, request, now, limit),
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
    getRequestWrite: async (requestId, seq) => {
      // Two calls with one request id (a retry while the first is still on its way) take turns.
      await run(client, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `baton:request:${schema}:${requestId}`,
      ]);
      const { rows: found } = await run<{ op: string; result: string }>(
        client,
        "SELECT op, result FROM requests WHERE request_id = $1 AND seq = $2",
        [requestId, seq],
      );
      return found[0];
    },
    putRequestWrite: async (row) => {
      await run(
        client,
        "INSERT INTO requests (request_id, seq, op, result, created_at) VALUES ($1, $2, $3, $4, $5)",
        [row.requestId, row.seq, row.op, row.result, row.createdAt],
      );
    },
    pruneRequests: async (before) => {
      await run(client, "DELETE FROM requests WHERE created_at < $1", [before]);
    },
    getLock: async (name) => {
      // Serialise writers of one lock name, whether or not its row exists yet.
      await run(client, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `baton:lock:${schema}:${name}`,
      ]);
      const { rows: found } = await run<LockRow>(client, "SELECT * FROM locks WHERE name = $1", [name]);
      const row = found[0];
      return row === undefined ? undefined : toLock(row);
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
        `INSERT INTO schedules (${SCHEDULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key) DO UPDATE SET config_path = excluded.config_path, task = excluded.task, cron = excluded.cron, last_slot = excluded.last_slot, last_fired_at = excluded.last_fired_at, disabled_at = excluded.disabled_at, updated_at = excluded.updated_at`,
        scheduleValues(s),
      );
    },
    deleteSchedule: async (key) =>
      ((await run(client, "DELETE FROM schedules WHERE key = $1", [key])).rowCount ?? 0) > 0,
    listSchedules: async () =>
      (await run<ScheduleRow>(client, "SELECT * FROM schedules ORDER BY key")).rows.map(toSchedule),
    cleanFinished: async (finishedBefore, states) => {
      const result = await run(
        client,
        `DELETE FROM jobs AS j WHERE state = ANY ($1::text[]) AND finished_at < $2 AND NOT ${HAS_WAITING_DEPENDENTS}`,
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
export async function candidates(client: PoolClient, request: ClaimRequest, now: number, limit: number) {
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
