/**
 * The read queries of the PostgreSQL store: jobs, counts, attempts, events, why a job waits. Reads
 * run outside any transaction, each as one statement (retried on a fresh connection when the
 * connection fails).
 */
import type { QueryResultRow } from "pg";
import { isCandidate, referenceKeys } from "../../core/ids.js";
import type { Attempt, Job, JobEvent } from "../../core/job.js";
import type { JobState } from "../../core/states.js";
import { historySql } from "../history.js";
import { publicJob } from "../records.js";
import { sqlFile } from "../sql-files.js";
import type { AttemptRowSql, EventRowSql, JobRow } from "../sqlite/rows.js";
import { toAttempt, toEvent, toJobRecord, toPause } from "../sqlite/rows.js";
import type {
  BlockingFacts,
  EventFilter,
  JobFilter,
  Page,
  Pause,
  StateCount,
  TransitionCount,
  WorkflowCount,
} from "../types.js";
import type { PgConnection } from "./connection.js";

export class PgReads {
  constructor(private readonly db: PgConnection) {}

  private read<R extends QueryResultRow>(text: string, values: unknown[] = []) {
    return this.db.read<R>(text, values);
  }

  private publicRows(rows: JobRow[]): Job[] {
    return rows.map((row) => {
      return publicJob(toJobRecord(row));
    });
  }

  async getJob(id: string): Promise<Job | undefined> {
    return this.publicRows((await this.read<JobRow>("SELECT * FROM jobs WHERE id = $1", [id])).rows)[0];
  }

  async findJobs(reference: string, limit: number, project?: string): Promise<Job[]> {
    const { prefix, suffix } = referenceKeys(reference);
    const { rows } = await this.read<JobRow>(sqlFile("postgres", "find_jobs"), [
      prefix,
      suffix,
      reference,
      project ?? null,
      limit,
    ]);
    return this.publicRows(rows.filter((row) => isCandidate(row, reference, project)));
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
    if (filter.finishedAfter !== undefined) clauses.push(`finished_at >= ${param(filter.finishedAfter)}`);
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

  async transitionCounts(since: number): Promise<TransitionCount[]> {
    const { rows } = await this.read<TransitionCount>(
      "SELECT to_state AS state, count(*)::int AS count FROM history WHERE at >= $1 AND to_state IS NOT NULL GROUP BY to_state ORDER BY to_state",
      [since],
    );
    return rows;
  }

  async attempts(jobId: string): Promise<Attempt[]> {
    const { rows } = await this.read<AttemptRowSql>("SELECT * FROM attempts WHERE job_id = $1 ORDER BY n", [
      jobId,
    ]);
    return rows.map(toAttempt);
  }

  async latestAttempts(jobIds: readonly string[]): Promise<Attempt[]> {
    const { rows } = await this.read<AttemptRowSql>(
      "SELECT DISTINCT ON (job_id) * FROM attempts WHERE job_id = ANY ($1::text[]) ORDER BY job_id, n DESC",
      [[...jobIds]],
    );
    return rows.map(toAttempt);
  }

  async events(filter: EventFilter): Promise<JobEvent[]> {
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const sql = historySql(filter, {
      param,
      limit: param,
      oneOf: (column, values) => `${column} = ANY (${param([...values])}::text[])`,
      limitEachSide: true,
      walkIdsForProject: false,
    });
    const { rows } = await this.read<EventRowSql>(sql, params);
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

  async requestCall(requestId: string): Promise<{ op: string; seq: number; result: string } | undefined> {
    const { rows } = await this.read<{ op: string; seq: number; result: string }>(
      "SELECT op, seq, result FROM requests WHERE request_id = $1 ORDER BY seq LIMIT 1",
      [requestId],
    );
    return rows[0];
  }
}
