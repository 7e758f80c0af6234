/**
 * Checkpoint operations: an agent enqueues one task per unit of work, completes each with
 * evidence, and a new chat resumes exactly what is left.
 */
import { z } from "zod";
import { BatonError, InvalidInputError, toBatonError } from "../core/errors.js";
import { checkCheckpointType, refuseReserved, runsProcess } from "../core/executors.js";
import { backoffSchema, enqueueSpecSchema, jobStateSchema, nameSchema } from "../core/job.js";
import { parseTimeRef } from "../core/duration.js";
import { ULID_PATTERN } from "../core/ids.js";
import type { JobState } from "../core/states.js";
import { JOB_STATES, LIVE_STATES } from "../core/states.js";
import {
  checked,
  countsSchema,
  idRef,
  refScopeFields,
  idsFields,
  idsOf,
  itemErrorSchema,
  projectOf,
  resolveJob,
  scopeFields,
  singleId,
} from "./common.js";
import type { OpContext } from "./operation.js";
import { defineOperation } from "./operation.js";
import { buildResume, readCursor, resumeOutputSchema } from "./resume.js";
import { whyWaiting } from "./waiting.js";
import {
  attemptView,
  attemptViewSchema,
  eventView,
  eventViewSchema,
  jobSummary,
  jobSummarySchema,
  jobView,
  jobViewSchema,
} from "./views.js";

const taskSpec = enqueueSpecSchema.extend({
  type: nameSchema("type").optional().describe("Default 'task'. ASCII letters, digits, _ - . : / @ +."),
  backoff: backoffSchema.optional(),
});

export const enqueueTask = defineOperation({
  name: "enqueue_task",
  title: "Enqueue tasks",
  summary:
    "Record durable tasks (one per unit of work, e.g. per file) before doing them. Survives crashes; resume_session lists what is left.",
  input: taskSpec.partial().extend({
    tasks: z.array(taskSpec).min(1).max(10_000).optional().describe("Many tasks at once (atomic)."),
    ...scopeFields,
  }),
  output: z.object({
    project: z.string(),
    jobs: z.array(z.object({ id: z.string(), state: jobStateSchema, deduplicated: z.boolean() })),
  }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "default",
  async run(input, ctx) {
    const { tasks, cwd: _cwd, project: _project, ...single } = input;
    const project = projectOf(input, ctx);
    const defaults = { workflow: single.workflow };
    let specs: Record<string, unknown>[];
    if (tasks !== undefined) {
      refuseBatchDefaults(single);
      specs = tasks.map((t) => ({ type: "task", ...(defaults.workflow ? defaults : {}), ...t }));
    } else {
      if (single.payload === undefined && single.name === undefined && single.type === undefined) {
        throw new InvalidInputError("give a task (type, payload or name) or a `tasks` array");
      }
      specs = [{ type: "task", ...single }];
    }
    // Before anything is written: one reserved item refuses the whole (atomic) batch.
    for (const spec of specs) checkCheckpointType(String(spec.type), "enqueue_task");
    for (const spec of specs) {
      if (Array.isArray(spec.dependsOn)) spec.dependsOn = await dependencyIds(ctx, spec.dependsOn, input);
    }
    const outcomes = await ctx.engine.enqueue(specs, { project, actor: ctx.actor });
    return {
      project,
      jobs: outcomes.map((o) => ({ id: o.job.id, state: o.job.state, deduplicated: o.deduplicated })),
    };
  },
});

/**
 * Beside a `tasks` batch only `workflow` is shared: a single task's other fields (`type`,
 * `priority`, `tags`…) are refused rather than dropped, since the batch would otherwise be
 * recorded without them, and sharing `name` or `idempotencyKey` across items would be wrong.
 */
function refuseBatchDefaults(single: Record<string, unknown>): void {
  const fields = Object.keys(single).filter((k) => k !== "workflow" && single[k] !== undefined);
  const field = fields[0];
  if (field === undefined) return;
  throw new InvalidInputError(
    `enqueue_task: ${field}: a single task's field cannot sit beside \`tasks\`; put "${field}" on each task (only workflow is shared by the batch)`,
    { issues: fields.map((f) => ({ path: f, message: "not allowed beside `tasks`; put it on each task" })) },
  );
}

/**
 * `dependsOn` takes any reference (id, short id, name in the project), resolved here so every
 * front-end gets the same rules; one that names no job stays DEPENDENCY_NOT_FOUND.
 */
async function dependencyIds(
  ctx: OpContext,
  refs: unknown[],
  scope: { cwd?: string | undefined; project?: string | undefined },
): Promise<unknown[]> {
  const ids: unknown[] = [];
  for (const ref of refs) {
    if (typeof ref !== "string") {
      ids.push(ref);
      continue;
    }
    try {
      ids.push((await resolveJob(ctx, ref, scope)).id);
    } catch (error) {
      if (toBatonError(error).code !== "JOB_NOT_FOUND") throw error;
      throw new BatonError("DEPENDENCY_NOT_FOUND", `dependsOn names unknown job(s): ${ref}`, {
        details: { missing: [ref] },
      });
    }
  }
  return ids;
}

// Strict like the top level: a misspelt `evidnce` in one item must be an error, not lost evidence.
const finishItem = z
  .object({
    id: idRef,
    evidence: z.unknown().optional(),
    result: z.unknown().optional(),
    token: z.string().optional(),
  })
  .strict();

/**
 * The override of D139: complete or fail a task even while it waits on dependencies that have not
 * finished (refused otherwise with DEPENDENCIES_UNFINISHED, whose message names this field). No
 * description: the default tools/list is at its 10,000-character budget (docs/mcp.md, D141).
 */
const forceField = z.boolean().optional();

export const completeTask = defineOperation({
  name: "complete_task",
  title: "Complete tasks",
  summary:
    "Mark tasks done, with evidence of what changed: `id`, `ids` (shared evidence) or `items` (each its own).",
  input: z.object({
    ...idsFields,
    ...refScopeFields,
    items: z.array(finishItem).min(1).max(10_000).optional(),
    evidence: z.unknown().optional().describe("What was done: files changed, test output, a summary."),
    result: z.unknown().optional(),
    token: z.string().optional().describe("Fencing token from claim_task, if claimed."),
    force: forceField,
  }),
  output: z.object({
    completed: z.array(
      z.object({
        id: z.string(),
        state: jobStateSchema,
        alreadyDone: z.boolean().optional().describe("It had already succeeded; nothing changed."),
      }),
    ),
    errors: z.array(itemErrorSchema),
  }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "default",
  async run(input, ctx) {
    const items = [
      ...idsOf(input).map((id) => ({
        id,
        evidence: input.evidence,
        result: input.result,
        token: input.token,
      })),
      ...(input.items ?? []),
    ];
    if (items.length === 0) throw new InvalidInputError("name the task(s) to complete: id, ids or items");
    const completed: { id: string; state: JobState; alreadyDone?: true }[] = [];
    const errors: { id: string; code: string; message: string }[] = [];
    for (const item of items) {
      try {
        const job = await resolveJob(ctx, item.id, input);
        refuseReserved(job.type, "complete_task", "finish");
        // An agent repeating its own call (a lost answer, a retry) gets "already done", not a
        // conflict: completing a succeeded task again asks for what is already true. Another
        // outcome after success (fail, skip) stays INVALID_TRANSITION.
        if (job.state === "succeeded") {
          completed.push({ id: job.id, state: job.state, alreadyDone: true });
          continue;
        }
        const done = await ctx.engine
          .complete(job.id, {
            actor: ctx.actor,
            ...(item.evidence === undefined ? {} : { evidence: item.evidence }),
            ...(item.result === undefined ? {} : { result: item.result }),
            ...(item.token === undefined ? {} : { token: item.token }),
            ...(input.force === true ? { overDependencies: true } : {}),
          })
          .catch(async (error: unknown) => {
            // Two calls at once: the other one finished it between our read and our write.
            const now = await ctx.engine.get(job.id).catch(() => undefined);
            if (now?.state === "succeeded" && toBatonError(error).code === "INVALID_TRANSITION")
              return undefined;
            throw error;
          });
        completed.push(
          done === undefined
            ? { id: job.id, state: "succeeded", alreadyDone: true }
            : { id: done.id, state: done.state },
        );
      } catch (error) {
        const e = toBatonError(error);
        if (singleId(input)) throw e;
        errors.push({ id: item.id, code: e.code, message: e.message });
      }
    }
    return { completed, errors };
  },
});

export const failTask = defineOperation({
  name: "fail_task",
  title: "Fail a task",
  summary: "Record that a task failed, with the error. A claimed task is retried while attempts are left.",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    error: z
      .string()
      .min(1)
      .max(64 * 1024),
    token: z.string().optional(),
    noRetry: z.boolean().optional().describe("Dead-letter now even if attempts are left."),
    force: forceField,
  }),
  output: z.object({ id: z.string(), state: jobStateSchema, retryAt: z.string().optional() }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "default",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    refuseReserved(job.type, "fail_task", "finish");
    const failed = await ctx.engine.fail(job.id, {
      error: input.error,
      actor: ctx.actor,
      ...(input.token === undefined ? {} : { token: input.token }),
      ...(input.noRetry === undefined ? {} : { noRetry: input.noRetry }),
      ...(input.force === true ? { overDependencies: true } : {}),
    });
    return failed.state === "retrying"
      ? { id: failed.id, state: failed.state, retryAt: new Date(failed.runAt).toISOString() }
      : { id: failed.id, state: failed.state };
  },
});

export const resumeSession = defineOperation({
  name: "resume_session",
  title: "Resume unfinished work",
  summary:
    "Call at the start of a chat: the unfinished tasks of this project (or one workflow), newest context first, within a token budget; `since` gives only what changed.",
  input: z.object({
    ...scopeFields,
    workflow: z.string().max(500).optional().describe('Only this workflow; "" for tasks in none.'),
    budget: z
      .number()
      .int()
      .min(50)
      .max(100_000)
      .optional()
      .describe("Token budget of the answer (default 600)."),
    since: z
      .string()
      .max(40)
      .superRefine(checked((v) => readCursor(v, 0)))
      .optional()
      .describe("A previous call's cursor, or a time (yesterday, 2h, an ISO date)."),
  }),
  output: resumeOutputSchema,
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "default",
  run(input, ctx) {
    return buildResume(ctx, {
      project: projectOf(input, ctx),
      workflow: input.workflow,
      budget: input.budget ?? 600,
      since: input.since,
    });
  },
});

export const checkTask = defineOperation({
  name: "check_task",
  title: "Show a task",
  summary: "One task in full: payload, state, result, evidence, error, attempts, recent events.",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    events: z.number().int().min(0).max(1000).optional().describe("Recent events to include (default 20)."),
  }),
  output: z.object({
    job: jobViewSchema,
    attempts: z.array(attemptViewSchema),
    events: z.array(eventViewSchema),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "default",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    const [attempts, events] = await Promise.all([
      ctx.engine.attempts(job.id),
      ctx.engine.events({ jobId: job.id, limit: 10_000 }),
    ]);
    const keep = input.events ?? 20;
    return {
      job: jobView(job),
      attempts: attempts.map(attemptView),
      events: (keep === 0 ? [] : events.slice(-keep)).map(eventView),
    };
  },
});

/** A state, or `live` / `finished` (the live states, the others). */
const STATE_WORDS: readonly string[] = [...JOB_STATES, "live", "finished"];
const stateWord = z.enum([...JOB_STATES, "live", "finished"] as [string, ...string[]]);
/**
 * One state word, several (an array, or one string with commas: `queued,running`, as the CLI's
 * `-s` and `GET /api/jobs?state=` take them), each a state or live / finished.
 */
const stateFilter = z
  .union([
    z
      .string()
      .max(400)
      .superRefine((v, issue) => {
        const bad = v.split(",").find((w) => !STATE_WORDS.includes(w.trim()));
        if (bad !== undefined)
          issue.addIssue({
            code: "custom",
            message: `'${bad.slice(0, 50)}' is not a state (one of: ${STATE_WORDS.join(", ")}; several with commas)`,
          });
      }),
    z.array(stateWord).min(1).max(20),
  ])
  .describe("A state, live or finished; several as an array or comma-separated.");

/** The states a state filter names, in the catalogue's order, each once. */
function statesOf(filter: string | readonly string[]): JobState[] {
  const words = (typeof filter === "string" ? filter.split(",") : filter).map((w) => w.trim());
  const wanted = new Set<string>();
  for (const w of words) {
    if (w === "live") {
      for (const s of LIVE_STATES) wanted.add(s);
    } else if (w === "finished") {
      for (const s of JOB_STATES) if (!LIVE_STATES.includes(s)) wanted.add(s);
    } else {
      wanted.add(w);
    }
  }
  return JOB_STATES.filter((s) => wanted.has(s));
}

/** A time as `since` / `until` take it, checked up front (an error names the field). */
const timeRef = z
  .string()
  .max(40)
  .superRefine(checked((v) => parseTimeRef(v, 0)));

export const listTasks = defineOperation({
  name: "list_tasks",
  title: "List tasks",
  summary:
    "Tasks of this project (or all), newest first, filtered by state, type, workflow, tag, text or creation time.",
  input: z.object({
    ...scopeFields,
    all: z.boolean().optional().describe("Every project, not just the current one."),
    state: stateFilter.optional(),
    type: z.string().min(1).max(200).optional(),
    workflow: z.string().min(1).max(500).optional(),
    tag: z.string().min(1).max(100).optional(),
    text: z.string().min(1).max(500).optional().describe("Search id, name, payload, evidence and error."),
    archived: z.boolean().optional().describe("Include archived tasks."),
    since: timeRef
      .optional()
      .describe("Created at or after: ISO date, a duration ago (2h, 7d), today or yesterday."),
    until: timeRef.optional().describe("Created before; same forms as since."),
    limit: z.number().int().min(1).max(1000).optional(),
    cursor: z
      .string()
      .max(40)
      .regex(ULID_PATTERN, "not a cursor: pass the nextCursor of the page before (a job id)")
      .optional(),
  }),
  output: z.object({ jobs: z.array(jobSummarySchema), total: z.number(), nextCursor: z.string().optional() }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "default",
  async run(input, ctx) {
    const states: readonly JobState[] | undefined =
      input.state === undefined ? undefined : statesOf(input.state);
    const filter = {
      ...(states === undefined ? {} : { states }),
      ...(input.type === undefined ? {} : { types: [input.type] }),
      ...(input.workflow === undefined ? {} : { workflow: input.workflow }),
      ...(input.tag === undefined ? {} : { tag: input.tag }),
      ...(input.text === undefined ? {} : { text: input.text }),
      ...(input.all === true ? {} : { project: projectOf(input, ctx) }),
      ...(input.archived === true ? { includeArchived: true } : {}),
      ...(input.since === undefined
        ? {}
        : { createdAfter: parseTimeRef(input.since, ctx.engine.clock.now()) }),
      ...(input.until === undefined
        ? {}
        : { createdBefore: parseTimeRef(input.until, ctx.engine.clock.now()) }),
    };
    const limit = input.limit ?? 50;
    const [jobs, total] = await Promise.all([
      ctx.engine.list(filter, {
        limit: limit + 1,
        ...(input.cursor === undefined ? {} : { after: input.cursor }),
      }),
      ctx.engine.count(filter),
    ]);
    const page = jobs.slice(0, limit);
    // How each process job ended: its latest attempt's exit code (one small read per such row).
    const summaries = await Promise.all(
      page.map(async (job) => {
        const summary = jobSummary(job);
        if (runsProcess(job.type) && job.startedAt !== null) {
          const attempts = await ctx.engine.attempts(job.id);
          const code = attempts[attempts.length - 1]?.exitCode;
          if (code !== undefined && code !== null) summary.exitCode = code;
        }
        return summary;
      }),
    );
    return {
      jobs: summaries,
      total,
      ...(jobs.length > limit ? { nextCursor: page[page.length - 1]!.id } : {}),
    };
  },
});

export const explainTask = defineOperation({
  name: "explain_task",
  title: "Explain a task",
  summary: "Why a task is not running: dependency, resource, run_at, pause, lease, or a run or agent limit.",
  input: z.object({ id: idRef, ...refScopeFields }),
  output: z.object({ id: z.string(), state: jobStateSchema, reasons: z.array(z.string()) }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    return { id: job.id, state: job.state, reasons: await whyWaiting(ctx, job) };
  },
});

export const auditLog = defineOperation({
  name: "audit_log",
  title: "Audit log",
  summary: "The event trail (who did what, when, with what evidence), or a summary by kind.",
  input: z.object({
    ...scopeFields,
    all: z.boolean().optional(),
    workflow: z.string().min(1).max(500).optional(),
    type: z.string().min(1).max(200).optional(),
    since: timeRef.optional().describe("ISO date, a duration ago (2h, 7d), today or yesterday."),
    until: timeRef.optional(),
    summary: z.boolean().optional().describe("Counts by event kind instead of the events."),
    limit: z.number().int().min(1).max(10_000).optional(),
  }),
  output: z.object({
    events: z.array(eventViewSchema).optional(),
    summary: z.object({ total: z.number(), byKind: countsSchema, jobs: z.number() }).optional(),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "default",
  async run(input, ctx) {
    const now = ctx.engine.clock.now();
    const filter = {
      ...(input.all === true ? {} : { project: projectOf(input, ctx) }),
      ...(input.workflow === undefined ? {} : { workflow: input.workflow }),
      ...(input.type === undefined ? {} : { types: [input.type] }),
      ...(input.since === undefined ? {} : { since: parseTimeRef(input.since, now) }),
      ...(input.until === undefined ? {} : { until: parseTimeRef(input.until, now) }),
    };
    if (input.summary === true) {
      const events = await ctx.engine.events({ ...filter, limit: 1_000_000 });
      const byKind: Record<string, number> = {};
      for (const e of events) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
      return { summary: { total: events.length, byKind, jobs: new Set(events.map((e) => e.jobId)).size } };
    }
    // The newest `limit` events, shown oldest first.
    const events = await ctx.engine.events({ ...filter, limit: input.limit ?? 100, order: "desc" });
    return { events: events.reverse().map(eventView) };
  },
});

export const receipt = defineOperation({
  name: "receipt",
  title: "Workflow receipt",
  summary: "Done / remaining / failed of a workflow, with the ids of what is left and what failed.",
  input: z.object({ ...scopeFields, workflow: z.string().min(1).max(500) }),
  output: z.object({
    workflow: z.string(),
    total: z.number(),
    done: z.number(),
    remaining: z.number(),
    failed: z.number(),
    byState: countsSchema,
    remainingIds: z.array(z.string()),
    failures: z.array(z.object({ id: z.string(), error: z.string().optional() })),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const filter = { workflow: input.workflow, project: projectOf(input, ctx), includeArchived: true };
    const counts = await ctx.engine.countByState(filter);
    const byState: Record<string, number> = {};
    for (const c of counts) byState[c.state] = (byState[c.state] ?? 0) + c.count;
    const total = Object.values(byState).reduce((a, b) => a + b, 0);
    if (total === 0)
      throw new BatonError("NOT_FOUND", `workflow '${input.workflow}' has no tasks in this project`);
    const remainingJobs = await ctx.engine.list(
      { ...filter, states: LIVE_STATES },
      { limit: 1000, order: "asc" },
    );
    const failedJobs = await ctx.engine.list(
      { ...filter, states: ["failed", "timed_out", "cancelled"] },
      { limit: 100, order: "asc" },
    );
    const n = (s: JobState) => byState[s] ?? 0;
    return {
      workflow: input.workflow,
      total,
      done: n("succeeded") + n("skipped"),
      remaining: n("waiting") + n("queued") + n("running") + n("retrying"),
      failed: n("failed") + n("timed_out") + n("cancelled"),
      byState,
      remainingIds: remainingJobs.map((j) => j.id),
      failures: failedJobs.map((j) => (j.error === null ? { id: j.id } : { id: j.id, error: j.error })),
    };
  },
});

export const health = defineOperation({
  name: "health",
  title: "Health",
  summary: "Is the ledger reachable, and how much work is in each state.",
  input: z.object({}),
  output: z.object({
    ok: z.boolean(),
    store: z.object({ kind: z.string(), location: z.string(), schemaVersion: z.number() }),
    counts: countsSchema,
    expiredLeases: z.number(),
    oldestQueued: z.string().optional(),
    paused: z.array(z.string()),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "default",
  async run(_input, ctx) {
    const store = ctx.engine.store;
    const [version, counts, pauses, running, queued] = await Promise.all([
      store.schemaVersion(),
      ctx.engine.countByState({ includeArchived: true }),
      ctx.engine.pauses(),
      ctx.engine.list({ states: ["running"] }, { limit: 1000 }),
      ctx.engine.list({ states: ["queued"] }, { limit: 1, order: "asc" }),
    ]);
    const byState: Record<string, number> = {};
    for (const c of counts) byState[c.state] = (byState[c.state] ?? 0) + c.count;
    const now = ctx.engine.clock.now();
    return {
      ok: true,
      store: { kind: store.kind, location: ctx.location, schemaVersion: version },
      counts: byState,
      expiredLeases: running.filter((j) => j.leaseExpiresAt !== null && j.leaseExpiresAt < now).length,
      ...(queued[0] === undefined ? {} : { oldestQueued: new Date(queued[0].createdAt).toISOString() }),
      paused: pauses.map((p) => (p.scope === "all" ? "all" : `${p.scope}:${p.target}`)),
    };
  },
});
