/**
 * Looking at and steering agent jobs: list and search them (metadata, user, kind, dates), show one
 * with its answer, cancel, pause (SIGSTOP to its process group) and resume (SIGCONT).
 */
import { z } from "zod";
import { BatonError, InvalidInputError } from "../core/errors.js";
import { parseDuration } from "../core/duration.js";
import type { Job } from "../core/job.js";
import { jobStateSchema } from "../core/job.js";
import type { JobFilter } from "../store/types.js";
import type { AgentPayload } from "../agents/agents.js";
import { AGENT_TYPE_PREFIX, agentLimitReason, isAgentPayload } from "../agents/agents.js";
import { agentHost, agentName, kindTag, metaTag, userTag } from "./agents.js";
import { stopJob, stopOutputSchema } from "./commands.js";
import { checked, idRef, projectOf, refScopeFields, resolveJob, scopeFields } from "./common.js";
import type { OpContext } from "./operation.js";
import { defineOperation } from "./operation.js";
import { jobSummary, jobSummarySchema } from "./views.js";

/** A point in time: an ISO date (2026-11-01, 2026-11-01T12:00Z) or a duration ago (2h, 7d). */
export function parseWhen(text: string, what?: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?[a-z]+/i.test(text) && !/^\d{4}-/.test(text)) {
    try {
      return now - parseDuration(text);
    } catch {
      // not a duration: try a date
    }
  }
  const at = Date.parse(text);
  if (Number.isNaN(at)) {
    throw new InvalidInputError(
      `${what === undefined ? "" : `${what} `}takes a date (2026-11-01, 2026-11-01T12:00Z) or an age (2h, 7d), not '${text}'`,
    );
  }
  return at;
}

/** `after` / `before`, checked up front so the refusal names the field (`--after` on the CLI). */
const when = z
  .string()
  .max(40)
  .superRefine(checked((v) => parseWhen(v)));

const filterFields = {
  meta: z
    .record(z.string().min(1).max(100), z.string().max(500))
    .optional()
    .describe("All of these key=value pairs."),
  user: z.string().min(1).max(90).optional(),
  type: z.string().min(1).max(90).optional().describe("The kind of work given at submit (review…)."),
  states: z.array(jobStateSchema).min(1).max(9).optional(),
  after: when.optional().describe("Created after: 2026-11-01 or an age (2h, 7d)."),
  before: when.optional().describe("Created before: a date or an age."),
  text: z.string().min(1).max(200).optional().describe("Text in the id, name, payload or error."),
  limit: z.number().int().min(1).max(500).optional().describe("Default 50."),
  all: z.boolean().optional().describe("Every project, not just the caller's."),
  ...scopeFields,
};
type Filters = z.output<z.ZodObject<typeof filterFields>>;

/**
 * Jobs matching the filters, newest first. The store filters by one tag; further tags are checked
 * here, a page at a time, so `limit` matches come back however rare they are.
 */
async function findJobs(ctx: OpContext, input: Filters, types: string[] | undefined): Promise<Job[]> {
  const tags = [
    ...Object.entries(input.meta ?? {}).map(([k, v]) => metaTag(k, v)),
    ...(input.user === undefined ? [] : [userTag(input.user)]),
    ...(input.type === undefined ? [] : [kindTag(input.type)]),
  ];
  const filter: JobFilter = {
    ...(types === undefined ? {} : { types }),
    ...(input.states === undefined ? {} : { states: input.states }),
    ...(input.all === true ? {} : { project: projectOf(input, ctx) }),
    ...(tags[0] === undefined ? {} : { tag: tags[0] }),
    ...(input.text === undefined ? {} : { text: input.text }),
    ...(input.after === undefined ? {} : { createdAfter: parseWhen(input.after, "after") }),
    ...(input.before === undefined ? {} : { createdBefore: parseWhen(input.before, "before") }),
  };
  const limit = input.limit ?? 50;
  const found: Job[] = [];
  let after: string | undefined;
  for (let page = 0; page < 50 && found.length < limit; page++) {
    const jobs = await ctx.engine.list(filter, { limit: 500, ...(after === undefined ? {} : { after }) });
    found.push(...jobs.filter((j) => tags.every((t) => j.tags.includes(t))));
    if (jobs.length < 500) break;
    after = jobs[jobs.length - 1]!.id;
  }
  return found.slice(0, limit);
}

/** Every agent type the ledger has seen (`agent:<name>`). */
async function agentTypes(ctx: OpContext): Promise<string[]> {
  const counts = await ctx.engine.countByState({});
  return [...new Set(counts.map((c) => c.type))].filter((t) => t.startsWith(AGENT_TYPE_PREFIX));
}

const searchedSchema = z.object({ jobs: z.array(jobSummarySchema.extend({ tags: z.array(z.string()) })) });

export const searchJobs = defineOperation({
  name: "search_jobs",
  title: "Search jobs",
  summary:
    "Jobs of any kind by metadata (meta key=value, as agent jobs are submitted with), user, kind of work, state, creation date and text; newest first.",
  input: z.object({ ...filterFields, jobType: z.string().min(1).max(200).optional() }),
  output: searchedSchema,
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const jobs = await findJobs(ctx, input, input.jobType === undefined ? undefined : [input.jobType]);
    return { jobs: jobs.map((j) => ({ ...jobSummary(j), tags: j.tags })) };
  },
});

export const agentList = defineOperation({
  name: "agent_list",
  title: "List agent jobs",
  summary:
    "Agent jobs, newest first, with their agent and state; filters: agent, metadata, user, kind, state, dates.",
  input: z.object({ agent: agentName.optional(), ...filterFields }),
  output: z.object({ jobs: z.array(jobSummarySchema.extend({ agent: z.string() })) }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const types = input.agent === undefined ? await agentTypes(ctx) : [`${AGENT_TYPE_PREFIX}${input.agent}`];
    if (types.length === 0) return { jobs: [] };
    const jobs = await findJobs(ctx, input, types);
    return {
      jobs: jobs.map((j) => ({ ...jobSummary(j), agent: j.type.slice(AGENT_TYPE_PREFIX.length) })),
    };
  },
});

async function agentJob(ctx: OpContext, ref: string, scope: { project?: string | undefined }): Promise<Job> {
  const job = await resolveJob(ctx, ref, scope);
  if (!job.type.startsWith(AGENT_TYPE_PREFIX) || !isAgentPayload(job.payload)) {
    throw new BatonError("NOT_FOUND", `job ${job.id} is not an agent job (type ${job.type})`);
  }
  return job;
}

/** Paused is a mark on the ledger's events: the last pause/resume event of the job's current attempt. */
async function isPaused(ctx: OpContext, job: Job): Promise<boolean> {
  if (job.state !== "running") return false;
  const events = await ctx.engine.events({ jobId: job.id, limit: 200, order: "desc" });
  const last = events.find((e) => e.kind === "paused" || e.kind === "resumed");
  return last?.kind === "paused" && (last.details as { attempt?: unknown }).attempt === job.attempts;
}

export const agentShow = defineOperation({
  name: "agent_show",
  title: "Show an agent job and its answer",
  summary:
    "An agent job's instructions, state (and why it waits), answer summary (or error), metadata and the tail of its log.",
  input: z.object({ id: idRef, ...refScopeFields, lines: z.number().int().min(0).max(1000).optional() }),
  output: z.object({
    id: z.string(),
    agent: z.string(),
    state: jobStateSchema,
    paused: z.boolean(),
    waiting: z.string().optional(),
    instructions: z.string(),
    meta: z.record(z.string(), z.string()),
    user: z.string().optional(),
    type: z.string().optional(),
    continues: z.string().optional(),
    summary: z.string().optional(),
    error: z.string().optional(),
    result: z.unknown().optional(),
    log: z.string(),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const job = await agentJob(ctx, input.id, input);
    const p = job.payload as AgentPayload;
    const result = job.result as { summary?: unknown; json?: unknown } | null;
    const attempt = Math.max(1, (await ctx.engine.attempts(job.id)).length);
    const log = ctx.commands?.readLog(job.id, attempt, "output", input.lines ?? 20) ?? "";
    const waiting = job.state === "queued" ? await agentLimitReason(ctx.engine, job) : undefined;
    return {
      id: job.id,
      agent: p.agent,
      state: job.state,
      paused: await isPaused(ctx, job),
      ...(waiting === undefined ? {} : { waiting }),
      instructions: p.instructions,
      meta: p.meta ?? {},
      ...(p.user === undefined ? {} : { user: p.user }),
      ...(p.kind === undefined ? {} : { type: p.kind }),
      ...(p.continues === undefined ? {} : { continues: p.continues }),
      ...(typeof result?.summary === "string" ? { summary: result.summary } : {}),
      ...(job.error === null ? {} : { error: job.error }),
      ...(result?.json === undefined ? {} : { result: result.json }),
      log,
    };
  },
});

export const agentCancel = defineOperation({
  name: "agent_cancel",
  title: "Cancel an agent job",
  summary:
    "Cancel a queued agent job, or stop a running one (SIGTERM to the agent's process group, grace, SIGKILL; at once with force).",
  input: z.object({ id: idRef, ...refScopeFields, force: z.boolean().optional() }),
  output: stopOutputSchema,
  readOnly: false,
  destructive: true,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const job = await agentJob(ctx, input.id, input);
    return stopJob.run({ id: job.id, ...(input.force === undefined ? {} : { force: input.force }) }, ctx);
  },
});

const pauseOutput = z.object({ id: z.string(), state: jobStateSchema, paused: z.boolean() });

async function setPaused(
  ctx: OpContext,
  input: { id: string; project?: string | undefined },
  pause: boolean,
): Promise<z.infer<typeof pauseOutput>> {
  const job = await agentJob(ctx, input.id, input);
  if (job.state !== "running") {
    throw new BatonError(
      "INVALID_TRANSITION",
      `agent job ${job.id} is ${job.state}: only a running agent can be ${pause ? "paused" : "resumed"}${job.state === "queued" && pause ? " (cancel it, or pause its type: baton pause --type " + job.type + ")" : ""}`,
    );
  }
  if ((await isPaused(ctx, job)) === pause) return { id: job.id, state: job.state, paused: pause };
  if (!(await agentHost(ctx).signal(job.id, pause))) {
    throw new BatonError("INVALID_TRANSITION", `agent job ${job.id} is not run by this host's daemon`);
  }
  await ctx.engine.store.addEvent({
    jobId: job.id,
    workflow: job.workflow,
    project: job.project,
    actor: ctx.actor,
    kind: pause ? "paused" : "resumed",
    fromState: null,
    toState: null,
    details: { attempt: job.attempts },
  });
  return { id: job.id, state: job.state, paused: pause };
}

export const agentPause = defineOperation({
  name: "agent_pause",
  title: "Pause a running agent job",
  summary:
    "Suspend a running agent (SIGSTOP to its process group) until agent_resume. Its timeout keeps counting.",
  input: z.object({ id: idRef, ...refScopeFields }),
  output: pauseOutput,
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  run: (input, ctx) => setPaused(ctx, input, true),
});

export const agentResume = defineOperation({
  name: "agent_resume",
  title: "Resume a paused agent job",
  summary: "Continue a paused agent (SIGCONT to its process group).",
  input: z.object({ id: idRef, ...refScopeFields }),
  output: pauseOutput,
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  run: (input, ctx) => setPaused(ctx, input, false),
});
