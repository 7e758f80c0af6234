/**
 * The hot operations of the PostgreSQL store as ONE statement each (data-modifying CTEs run as an
 * implicit transaction: one round trip, no BEGIN/COMMIT): enqueue, claim, complete, heartbeat.
 * Before this, an enqueue was five round trips (BEGIN, insert job, insert event, NOTIFY, COMMIT)
 * and a claim or a completion seven.
 *
 * Each function covers the common case only and answers `undefined` when the general path
 * ({@link LedgerStore} over ledger-tx.ts, in BEGIN … COMMIT) must decide instead: an idempotency
 * key or dependencies on enqueue, type prefixes or expired leases to recover on claim, an outcome
 * other than success or a job with dependents on finish, a heartbeat that lost its lease. Both
 * paths write the same rows and events, so the Store contract, fencing tokens and typed errors are
 * the general path's.
 *
 * Why single statements are safe under READ COMMITTED: every row a statement changes is locked
 * and rechecked on its newest version (the UPDATE's WHERE names the state and the fencing token),
 * so a concurrent change makes the statement do nothing rather than something stale, and the
 * caller falls back. Subqueries keep the statement's starting snapshot, which is why completion
 * reads `has_dependents` from the job's own row (migration 000004) rather than from job_deps.
 */
import type { ClaimedJob, Job } from "../../core/job.js";
import { publicJob } from "../records.js";
import { sqlFile } from "../sql-files.js";
import type { JobRow } from "../sqlite/rows.js";
import { JOB_COLUMNS, toJobRecord } from "../sqlite/rows.js";
import type { ClaimRequest, FinishRequest, JobRecord } from "../types.js";
import type { PgConnection } from "./connection.js";
import { NEXT_EVENT_ID } from "./ledger-tx.js";

// --- enqueue ------------------------------------------------------------------------------------

const ENQUEUE_COLUMNS =
  "id, type, name, payload, priority, run_at, max_attempts, backoff, workflow, project, resource_key, tags, timeout_ms";

/**
 * The enqueue statement. Many rows come as one array per column ($1–$13, unnested); one row as
 * plain values, which the server plans and runs about 55 µs faster (measured: 305 against 362 µs
 * per statement, most of an enqueue's cost besides the commit).
 */
function enqueueSql(retry: boolean, many: boolean): string {
  const values = many
    ? `SELECT ${ENQUEUE_COLUMNS}, 'queued', 0, '[]', $14, $14, ${NEXT_EVENT_ID}, $15, 'queued' FROM input ORDER BY ord`
    : `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'queued', 0, '[]', $14, $14, ${NEXT_EVENT_ID}, $15, 'queued')`;
  return `WITH ${
    many
      ? `input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[],
    $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[])
    WITH ORDINALITY AS u(${ENQUEUE_COLUMNS}, ord)
), `
      : ""
  }ins AS (
  INSERT INTO jobs (${ENQUEUE_COLUMNS}, state, attempts, depends_on, created_at, updated_at, enqueue_id, enqueue_actor, enqueue_state)
  ${values}
  ${retry ? "ON CONFLICT (id) DO NOTHING" : ""}
  RETURNING id
), wake AS (
  SELECT pg_notify($16, '') FROM (SELECT 1 FROM ins LIMIT 1) AS any_row
)
SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM wake)::int AS notified`;
}

/** First try: an id that exists is an error, as on the general path. [one row, many rows] */
const ENQUEUE = [enqueueSql(false, false), enqueueSql(false, true)] as const;
/** After a connection broke mid-statement: the first try may have committed (all of it or none). */
const ENQUEUE_RETRY = [enqueueSql(true, false), enqueueSql(true, true)] as const;

/** True when {@link enqueueJobs} can insert these (no idempotency key, no dependencies). */
export function canEnqueueFast(records: readonly JobRecord[]): boolean {
  return records.every((r) => r.idempotencyKey === null && r.dependsOn.length === 0 && r.state === "queued");
}

/**
 * Insert queued jobs (each row carrying its derived `enqueued` event, D152) and one NOTIFY, all or nothing. `retry`: the
 * previous try's connection broke, so it may have committed; returns how many rows this try
 * inserted (0 on a retry means the previous try had committed them all).
 */
export async function enqueueJobs(
  db: PgConnection,
  records: readonly JobRecord[],
  payloads: readonly string[],
  now: number,
  actor: string,
  channel: string,
  retry: boolean,
): Promise<number> {
  const many = records.length > 1;
  const column = <T>(pick: (r: JobRecord) => T) => (many ? records.map(pick) : pick(records[0]!));
  const sql = (retry ? ENQUEUE_RETRY : ENQUEUE)[many ? 1 : 0];
  const { rows } = await db.statement<{ inserted: number }>(sql, [
    column((r) => r.id),
    column((r) => r.type),
    column((r) => r.name),
    many ? payloads : payloads[0],
    column((r) => r.priority),
    column((r) => r.runAt),
    column((r) => r.maxAttempts),
    column((r) => JSON.stringify(r.backoff)),
    column((r) => r.workflow),
    column((r) => r.project),
    column((r) => r.resourceKey),
    column((r) => JSON.stringify(r.tags)),
    column((r) => r.timeoutMs),
    now,
    actor,
    channel,
  ]);
  return rows[0]?.inserted ?? 0;
}

/** How many of these ids exist (after a retry inserted none: did the first try commit them all?). */
export async function countJobs(db: PgConnection, ids: readonly string[]): Promise<number> {
  const { rows } = await db.read<{ n: number }>(
    "SELECT count(*)::int AS n FROM jobs WHERE id = ANY ($1::text[])",
    [ids],
  );
  return rows[0]?.n ?? 0;
}

// --- claim --------------------------------------------------------------------------------------

/**
 * The claim around a candidates query ($1–$7, see sql/postgres/claim_*.sql). $8 the owner of each
 * slot (text[]: the claims of several callers with the same filters go in one statement, D36;
 * slot n, counted from 1 in claim order, goes to $8[n]), $9 the lease's end, $10 now. Claims
 * nothing when a lease has expired (the general path recovers it first, as the contract says) and
 * says so in `recover`. Of several candidates sharing a resource key only the first is claimed,
 * like LedgerStore.claimInTx, and slots are counted after that cut. Always answers at least one row.
 */
function claimCtes(candidates: string): string {
  return `expired AS (
  SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND lease_expires_at < $10::bigint) AS recover
), cand AS (
${candidates}
), ranked AS (
  SELECT c.id, c.state AS from_state, c.resource_key, c.priority, c.run_at,
    row_number() OVER (PARTITION BY c.resource_key ORDER BY c.priority DESC, c.run_at, c.id) AS nth
  FROM cand c
  WHERE NOT (SELECT recover FROM expired)
), pick AS (
  SELECT r.id, r.from_state,
    (SELECT coalesce(max(a.n), 0) + 1 FROM attempts a WHERE a.job_id = r.id) AS attempt_n,
    (row_number() OVER (ORDER BY r.priority DESC, r.run_at, r.id))::int AS slot
  FROM ranked r
  WHERE r.resource_key IS NULL OR r.nth = 1
), taken AS (
  UPDATE jobs j SET state = 'running', attempts = j.attempts + 1,
    lease_owner = ($8::text[])[p.slot], lease_token = gen_random_uuid()::text,
    lease_expires_at = $9::bigint, started_at = $10::bigint, updated_at = $10::bigint
  FROM pick p
  WHERE j.id = p.id
  RETURNING j.*, p.from_state, p.attempt_n, p.slot
), claim_att AS (
  INSERT INTO attempts (job_id, n, token, owner, started_at)
  SELECT id, attempt_n, lease_token, lease_owner, $10::bigint FROM taken
), claim_ev AS (
  INSERT INTO events (job_id, workflow, project, at, actor, kind, from_state, to_state, details)
  SELECT id, workflow, project, $10::bigint, lease_owner, 'claimed', from_state, 'running',
    '{"attempt":' || attempt_n || '}'
  FROM taken ORDER BY slot
)`;
}

function claimSql(candidates: string): string {
  return `WITH ${claimCtes(candidates)}
SELECT taken.*, expired.recover FROM expired LEFT JOIN taken ON true
ORDER BY taken.slot`;
}

/** `$n` → `$(n + by)`: one statement's parameters placed after another's in a combined statement. */
function shiftParams(sql: string, by: number): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + by}`);
}

/** Statements built around a candidates query (sql/postgres/claim_*.sql), once each. */
const aroundCandidates = new Map<(candidates: string) => string, Map<ClaimStatement["kind"], string>>();

function withCandidates(wrap: (candidates: string) => string, kind: ClaimStatement["kind"]): string {
  let built = aroundCandidates.get(wrap);
  if (built === undefined) aroundCandidates.set(wrap, (built = new Map()));
  let sql = built.get(kind);
  if (sql === undefined) {
    sql = wrap(sqlFile("postgres", kind === "any" ? "claim_any" : "claim_by_type"));
    built.set(kind, sql);
  }
  return sql;
}

export type ClaimRow = JobRow & { attempt_n: number | null; slot: number | null; recover: boolean };

/** True when {@link claimJobs} covers this request (one candidates query: not type prefixes). */
export function canClaimFast(request: ClaimRequest): boolean {
  return request.typePrefixes === undefined || request.typePrefixes.length === 0;
}

/**
 * The filters of a claim request: requests with the same shape can share one statement, whatever
 * their owners and limits.
 */
export function claimShape(request: ClaimRequest): string {
  return JSON.stringify([
    request.types ?? null,
    request.workflow ?? null,
    request.project ?? null,
    request.excludeProjects ?? [],
    request.excludeTypes ?? [],
    request.affinities ?? null,
    request.leaseMs,
  ]);
}

/**
 * Claim in one statement for one or more requests of the same {@link claimShape} (each its own
 * owner and limit; jobs go to them in order, each up to its limit). Answers each request's jobs,
 * or `undefined`: take the general path (expired leases to recover first, or no type left to ask
 * for once the excluded ones are removed).
 */
export async function claimJobs(
  runStatement: StatementRunner<ClaimRow>,
  requests: readonly ClaimRequest[],
  now: number,
): Promise<ClaimedJob[][] | undefined> {
  const statement = claimStatement(requests, now);
  if (statement === undefined) return undefined;
  const result = await runStatement(withCandidates(claimSql, statement.kind), statement.values);
  if (result.rows[0]?.recover === true) return undefined;
  return statement.claimed(result.rows);
}

/** A claim's candidates query, its parameters ($1–$10), and how to hand its rows to the requests. */
interface ClaimStatement {
  kind: "any" | "type";
  values: unknown[];
  claimed(rows: readonly ClaimRow[]): ClaimedJob[][];
}

function claimStatement(requests: readonly ClaimRequest[], now: number): ClaimStatement | undefined {
  const request = requests[0]!;
  const workflow = request.workflow ?? null;
  const project = request.project ?? null;
  const excludedProjects = [...(request.excludeProjects ?? [])];
  const excludedTypes = [...(request.excludeTypes ?? [])];
  const affinities = request.affinities === undefined ? null : [...request.affinities];
  const leaseExpiresAt = now + request.leaseMs;
  // $1–$2 differ by query (claim_any: now, excluded types; claim_by_type: types, now); $3–$10 do not.
  let lead: unknown[];
  let kind: ClaimStatement["kind"];
  if (request.types === undefined) {
    kind = "any";
    lead = [now, excludedTypes];
  } else {
    const excluded = new Set(excludedTypes);
    const types = [...new Set(request.types)].filter((type) => !excluded.has(type));
    if (types.length === 0) return undefined;
    kind = "type";
    lead = [types, now];
  }
  // One owner per slot; `firstSlot[i]` is request i's first slot (from 1).
  const owners: string[] = [];
  const firstSlot: number[] = [];
  for (const r of requests) {
    firstSlot.push(owners.length + 1);
    for (let n = 0; n < r.limit; n++) owners.push(r.owner);
  }
  const values = [
    ...lead,
    workflow,
    project,
    excludedProjects,
    owners.length,
    affinities,
    owners,
    leaseExpiresAt,
    now,
  ];
  const claimed = (rows: readonly ClaimRow[]): ClaimedJob[][] => {
    const out: ClaimedJob[][] = requests.map(() => []);
    let i = 0;
    for (const row of rows) {
      if (row.id === null) continue;
      const slot = row.slot!;
      while (i + 1 < requests.length && slot >= firstSlot[i + 1]!) i++;
      out[i]!.push({
        job: publicJob(toJobRecord(row)),
        token: row.lease_token!,
        attempt: row.attempt_n!,
        leaseExpiresAt,
      });
    }
    return out;
  };
  return { kind, values, claimed };
}

// --- complete -----------------------------------------------------------------------------------

/**
 * Running jobs, each presented with its fencing token, succeed: each job, its open attempt, its
 * `completed` event (in the order given). Only jobs without dependents (their release needs the
 * general path); a job not running under its token is left alone and not returned.
 *
 * `state COLLATE "C" = 'running'` is the same test as `state = 'running'` (equality under a
 * deterministic collation compares bytes), written so the planner cannot prove the predicate of
 * the partial index jobs_lease from it: the generic plan chose a bitmap scan of all of jobs_lease
 * (every running job and every dead entry left since the last vacuum, 2,000 at one count) over
 * one primary-key lookup per job, 0.52 ms against 0.08 ms (D36).
 */
const COMPLETE_CTES = `input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::boolean[], $6::text[],
    $7::boolean[], $8::text[], $9::int[], $10::text[], $11::text[])
    WITH ORDINALITY AS u(id, token, has_result, result, has_evidence, evidence, has_error, error,
      exit_code, actor, rest, ord)
), done AS (
  UPDATE jobs SET state = 'succeeded', updated_at = $12, finished_at = $12, lease_owner = NULL,
    lease_token = NULL, lease_expires_at = NULL,
    result = CASE WHEN i.has_result THEN i.result ELSE jobs.result END,
    evidence = CASE WHEN i.has_evidence THEN i.evidence ELSE jobs.evidence END,
    error = CASE WHEN i.has_error THEN i.error ELSE jobs.error END
  FROM input i
  WHERE jobs.id = i.id AND jobs.state COLLATE "C" = 'running' AND jobs.lease_token = i.token
    AND jobs.attempts > 0 AND NOT jobs.has_dependents
  RETURNING jobs.*, i.ord AS input_ord, i.exit_code AS input_exit_code, i.error AS input_error,
    i.actor AS input_actor, i.rest AS input_rest
), done_att AS (
  UPDATE attempts SET ended_at = $12, outcome = 'succeeded', exit_code = done.input_exit_code,
    error = done.input_error
  FROM done WHERE attempts.job_id = done.id AND attempts.ended_at IS NULL
  RETURNING attempts.job_id, attempts.n
), done_ev AS (
  INSERT INTO events (job_id, workflow, project, at, actor, kind, from_state, to_state, details)
  SELECT done.id, done.workflow, done.project, $12, done.input_actor, 'completed', 'running', 'succeeded',
    '{"attempt":' || coalesce(done_att.n, done.attempts) || done.input_rest
  FROM done LEFT JOIN done_att ON done_att.job_id = done.id ORDER BY done.input_ord
)`;

export const COMPLETE = `WITH ${COMPLETE_CTES}
SELECT * FROM done ORDER BY input_ord`;

/** True when {@link completeJobs} covers this request. */
export function canCompleteFast(request: FinishRequest): boolean {
  return request.outcome === "succeeded" && request.token !== undefined && request.force !== true;
}

/** Runs one statement: a pooled implicit transaction, or a client inside BEGIN … COMMIT. */
export type StatementRunner<R = JobRow> = (text: string, values: unknown[]) => Promise<{ rows: R[] }>;

/**
 * Complete in one statement, for one job or many (ids distinct). Answers the jobs it completed,
 * by id; any other (not running under its token, or with dependents) is for the general path,
 * which raises the precise error.
 */
export async function completeJobs(
  runStatement: StatementRunner,
  requests: readonly FinishRequest[],
  now: number,
): Promise<Map<string, Job>> {
  const { rows } = await runStatement(COMPLETE, completeValues(requests, now));
  return new Map(rows.map((row) => [row.id, publicJob(toJobRecord(row))]));
}

/** COMPLETE's parameters ($1–$12). */
function completeValues(requests: readonly FinishRequest[], now: number): unknown[] {
  const columns: unknown[][] = Array.from({ length: 11 }, () => []);
  for (const request of requests) {
    // Encoded as LedgerStore.transitionInTx + JOB_COLUMNS encode them (parsed, then stringified).
    const result = request.result === undefined ? null : JSON.stringify(JSON.parse(request.result));
    const evidenceValue =
      request.evidence === undefined ? undefined : (JSON.parse(request.evidence) as unknown);
    // The event's details after `attempt`, in transitionInTx's key order.
    const details: Record<string, unknown> = {};
    if (request.error !== undefined) details.error = request.error;
    if (request.exitCode !== undefined) details.exitCode = request.exitCode;
    if (evidenceValue !== undefined) details.evidence = evidenceValue;
    const values = [
      request.jobId,
      request.token,
      request.result !== undefined,
      result,
      evidenceValue !== undefined,
      evidenceValue === undefined ? null : JSON.stringify(evidenceValue),
      request.error !== undefined,
      request.error ?? null,
      request.exitCode ?? null,
      request.actor,
      Object.keys(details).length === 0 ? "}" : `,${JSON.stringify(details).slice(1)}`,
    ];
    values.forEach((value, i) => columns[i]!.push(value));
  }
  return [...columns, now];
}

// --- complete, then claim -----------------------------------------------------------------------

/** The job columns a combined statement returns for both parts (what toJobRecord reads). */
const JOB_COLUMN_NAMES = Object.values(JOB_COLUMNS).map(([column]) => column);

/**
 * COMPLETE's successes and a claim in ONE statement, one commit (D38): a worker's batch. Data-
 * modifying CTEs share the statement's snapshot, so the claim does not see what the completions
 * free: a resource key held by a job completed here still blocks its next job until the next
 * claim (the caller claims again for the shortfall when one was freed, see `freed`). The rows of
 * both parts come in one result: `part` tells them apart.
 */
function completeThenClaimSql(candidates: string): string {
  const done = JOB_COLUMN_NAMES.join(", ");
  const taken = JOB_COLUMN_NAMES.map((c) => `taken.${c}`).join(", ");
  return `WITH ${COMPLETE_CTES}, ${shiftParams(claimCtes(candidates), 12)}
SELECT 'done' AS part, input_ord::int AS slot, NULL::int AS attempt_n, NULL::boolean AS recover, ${done}
FROM done
UNION ALL
SELECT 'taken', taken.slot, taken.attempt_n, expired.recover, ${taken}
FROM expired LEFT JOIN taken ON true
ORDER BY part, slot`;
}

type CombinedRow = ClaimRow & { part: "done" | "taken" };

export interface CompletedThenClaimed {
  /** The jobs completed, by id; the others are for the general path, as with completeJobs. */
  done: Map<string, Job>;
  /** The jobs claimed, or undefined: the claim is the general path's (a lease to recover first). */
  claimed: ClaimedJob[] | undefined;
  /** A completed job held a resource key, which this statement's claim could not see released. */
  freed: boolean;
}

/**
 * Complete `finishes` (distinct jobs, each {@link canCompleteFast}) and claim for `claim` (one
 * {@link canClaimFast} request) in one statement. Undefined when the claim asks for no type at
 * all (every one excluded): the caller runs the two apart.
 */
export async function completeThenClaim(
  runStatement: StatementRunner<CombinedRow>,
  finishes: readonly FinishRequest[],
  claim: ClaimRequest,
  now: number,
): Promise<CompletedThenClaimed | undefined> {
  const statement = claimStatement([claim], now);
  if (statement === undefined) return undefined;
  const sql = withCandidates(completeThenClaimSql, statement.kind);
  const { rows } = await runStatement(sql, [...completeValues(finishes, now), ...statement.values]);
  const done = new Map<string, Job>();
  let freed = false;
  const takenRows: CombinedRow[] = [];
  for (const row of rows) {
    if (row.part === "taken") {
      takenRows.push(row);
      continue;
    }
    done.set(row.id, publicJob(toJobRecord(row)));
    if (row.resource_key !== null) freed = true;
  }
  const recover = takenRows[0]?.recover === true;
  return { done, claimed: recover ? undefined : statement.claimed(takenRows)[0]!, freed };
}

/** The outcome of the attempt that holds `token` (null while it is open), or undefined. */
export async function attemptOutcome(
  db: PgConnection,
  jobId: string,
  token: string,
): Promise<string | null | undefined> {
  const { rows } = await db.read<{ outcome: string | null }>(
    "SELECT outcome FROM attempts WHERE job_id = $1 AND token = $2",
    [jobId, token],
  );
  return rows[0] === undefined ? undefined : rows[0].outcome;
}

// --- heartbeat ----------------------------------------------------------------------------------

const HEARTBEAT = `WITH renewed AS (
  UPDATE jobs SET lease_expires_at = $3 WHERE id = $1 AND state = 'running' AND lease_token = $2
  RETURNING 1
)
SELECT (SELECT count(*) FROM renewed)::int AS renewed`;

/** Extend a lease in one statement; false: the general path decides (and raises the error). */
export async function renewLease(
  db: PgConnection,
  jobId: string,
  token: string,
  leaseExpiresAt: number,
): Promise<boolean> {
  const { rows } = await db.statement<{ renewed: number }>(HEARTBEAT, [jobId, token, leaseExpiresAt]);
  return rows[0]?.renewed === 1;
}
