/**
 * The query behind `Store.events` on both dialects. A job's history is its stored events plus its
 * `enqueued` event, which since migration 000011 is derived from the job's row (jobs.enqueue_id,
 * enqueue_actor, enqueue_state; docs/decisions.md D152). Each filter is applied to both sources
 * (the job row's created_at is the event's `at`, its id the event's job id), and the two are
 * merged in id order: each side is read in the order of its own index (events by id, jobs by
 * jobs_enqueue_id), so a page (`LIMIT`, `afterId`, newest first) stops as early as a read of the
 * events table alone did.
 */
import type { EventFilter } from "./types.js";

export interface HistoryDialect {
  /** Add a parameter; answers its placeholder. */
  param(value: unknown): string;
  /** Add the row limit as a parameter; answers its placeholder (SQLite: `+?`, see D34). */
  limit(value: number): string;
  /** `column` is one of `values` (an empty list matches nothing). */
  oneOf(column: string, values: readonly string[]): string;
  /** Wrap each side in a subquery with its own ORDER BY and LIMIT (PostgreSQL); SQLite merges the sides itself. */
  limitEachSide: boolean;
  /**
   * SQLite: for a filter by project alone, walk jobs_enqueue_id (enqueue_id, project) in id order
   * and check the project from that index (`+project` keeps SQLite's planner off jobs_workflow),
   * instead of reading every job of the project and sorting them: a page of a project's newest
   * events then reads about as many job rows as it returns.
   */
  walkIdsForProject: boolean;
}

const STORED =
  "SELECT id, job_id, workflow, project, at, actor, kind, from_state, to_state, details FROM events";
const DERIVED =
  "SELECT enqueue_id, id, workflow, project, created_at, enqueue_actor, 'enqueued', NULL, enqueue_state, NULL FROM jobs";

interface Side {
  select: string;
  id: string;
  jobId: string;
  at: string;
  base: string[];
}

const SIDES: readonly [Side, Side] = [
  { select: STORED, id: "id", jobId: "job_id", at: "at", base: [] },
  { select: DERIVED, id: "enqueue_id", jobId: "id", at: "created_at", base: ["enqueue_id IS NOT NULL"] },
];

function sideWhere(side: Side, filter: EventFilter, d: HistoryDialect): string {
  const clauses = [...side.base];
  const stored = side === SIDES[0];
  if (filter.jobId !== undefined) clauses.push(`${side.jobId} = ${d.param(filter.jobId)}`);
  if (filter.jobIds !== undefined) clauses.push(d.oneOf(side.jobId, filter.jobIds));
  if (filter.kinds !== undefined && stored) clauses.push(d.oneOf("kind", filter.kinds));
  if (filter.workflow !== undefined) clauses.push(`workflow = ${d.param(filter.workflow)}`);
  if (filter.project !== undefined) {
    const walk =
      !stored &&
      d.walkIdsForProject &&
      filter.workflow === undefined &&
      filter.jobId === undefined &&
      filter.jobIds === undefined;
    clauses.push(`${walk ? "+" : ""}project = ${d.param(filter.project)}`);
  }
  if (filter.types !== undefined && filter.types.length > 0) {
    clauses.push(
      stored
        ? `job_id IN (SELECT id FROM jobs WHERE ${d.oneOf("type", filter.types)})`
        : d.oneOf("type", filter.types),
    );
  }
  if (filter.since !== undefined) clauses.push(`${side.at} >= ${d.param(filter.since)}`);
  if (filter.until !== undefined) clauses.push(`${side.at} < ${d.param(filter.until)}`);
  if (filter.afterId !== undefined) clauses.push(`${side.id} > ${d.param(filter.afterId)}`);
  return clauses.length > 0 ? ` WHERE ${clauses.join(" AND ")}` : "";
}

/** The SQL of `events(filter)`: rows with the events table's columns, in id order, at most `limit`. */
export function historySql(filter: EventFilter, d: HistoryDialect): string {
  const order = filter.order === "desc" ? "DESC" : "ASC";
  // A filter on kinds that leaves `enqueued` out needs no job rows.
  const sides = filter.kinds === undefined || filter.kinds.includes("enqueued") ? SIDES : [SIDES[0]];
  const parts = sides.map((side) => {
    const sql = `${side.select}${sideWhere(side, filter, d)}`;
    return d.limitEachSide
      ? `SELECT * FROM (${sql} ORDER BY ${side.id} ${order} LIMIT ${d.limit(filter.limit)}) AS ${side === SIDES[0] ? "stored" : "derived"}`
      : sql;
  });
  return `${parts.join(" UNION ALL ")} ORDER BY id ${order} LIMIT ${d.limit(filter.limit)}`;
}
