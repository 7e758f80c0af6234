/**
 * Agent jobs: hand instructions to an agent CLI in the background (one job or a batch), hand work
 * over and wait for the answer (`delegate`), and follow a finished job up (`agent_continue`). The
 * daemon's supervisor runs them (`agent:<name>` jobs) like background commands.
 */
import { z } from "zod";
import { BatonError } from "../core/errors.js";
import { parseTimerDuration } from "../core/duration.js";
import type { Job } from "../core/job.js";
import { jobStateSchema, nameSchema } from "../core/job.js";
import { isTerminal } from "../core/states.js";
import type { AgentPayload } from "../agents/agents.js";
import { AGENT_PRESETS, AGENT_TYPE_PREFIX, agentArgvWith, isAgentPayload } from "../agents/agents.js";
import type { ResolvedAgent } from "../agents/config.js";
import { resolveAgent } from "../agents/config.js";
import { idRef, projectOf, refScopeFields, resolveJob, scopeFields } from "./common.js";
import { enqueueWithEnv } from "./commands.js";
import type { CommandHost, OpContext } from "./operation.js";
import { defineOperation } from "./operation.js";

export function agentHost(ctx: OpContext): CommandHost {
  if (ctx.commands === undefined) {
    throw new BatonError("INVALID_INPUT", "this front-end cannot run agent jobs (no daemon access)");
  }
  return ctx.commands;
}

export const agentName = nameSchema("agent", 64).refine((s) => /^[A-Za-z0-9_.-]+$/.test(s), {
  message: "an agent name is letters, digits, '.', '_' and '-'",
});

/** Tags an agent job is found by: `meta:<k>=<v>`, `user:<name>`, `kind:<kind>` (100 chars at most). */
export const metaTag = (key: string, value: string) => `meta:${key}=${value}`.slice(0, 100);
export const userTag = (user: string) => `user:${user}`.slice(0, 100);
export const kindTag = (kind: string) => `kind:${kind}`.slice(0, 100);

const metaField = z.record(z.string().min(1).max(100), z.string().max(500));
const label = (what: string) =>
  z
    .string()
    .min(1)
    .max(90)
    .regex(/^[^\s]+$/, `a ${what} has no spaces`);

/** What one agent job is: the fields of `agent_submit`, and of each line of a bulk file. */
const jobFields = {
  agent: agentName.describe(
    "An agent of baton.yaml (`agents:`), a preset (claude, codex, gemini), or a name for `command`.",
  ),
  instructions: z
    .string()
    .min(1)
    .max(100 * 1024),
  command: z
    .array(z.string().max(4096))
    .min(1)
    .max(200)
    .optional()
    .describe("An ad-hoc command template; `{instructions}` marks where the text goes (else appended)."),
  timeout: z.string().max(40).optional().describe("Stop the agent after this long: 30s, 10m, 2h."),
  meta: metaField.optional().describe("Metadata to search by: { pr: '42' }."),
  user: label("user").optional().describe("Who the job is for or from."),
  type: label("type").optional().describe("The kind of work (review, fix…), searchable."),
  key: nameSchema("key", 500)
    .optional()
    .describe("Idempotency key: the job with it (live, or finished until cleaned) is returned instead."),
  retries: z.number().int().min(0).max(20).optional(),
};
const jobSpec = z.strictObject(jobFields);
type JobSpec = z.output<typeof jobSpec>;

const submittedSchema = z.object({
  id: z.string(),
  agent: z.string(),
  state: jobStateSchema,
  deduplicated: z.boolean(),
  logPath: z.string(),
  summary: z.string().optional(),
  error: z.string().optional(),
});
type Submitted = z.infer<typeof submittedSchema>;

interface Built {
  spec: Record<string, unknown>;
  env: Record<string, string>;
}

/** The job spec of one agent job; the agent's configured env is returned apart (it never reaches the ledger). */
function build(
  spec: JobSpec,
  agent: ResolvedAgent,
  ctx: OpContext,
  scope: { cwd?: string | undefined; project?: string | undefined },
  extra: { argv?: string[]; continues?: string } = {},
): Built {
  const callerCwd = scope.cwd ?? ctx.cwd;
  const cwd = agent.cwd ?? callerCwd;
  const timeoutMs =
    spec.timeout === undefined ? agent.timeoutMs : parseTimerDuration(spec.timeout, "timeout");
  const meta = spec.meta ?? {};
  const payload: AgentPayload = {
    argv: extra.argv ?? agentArgvWith(agent.template, spec.instructions, agent.stdin),
    cwd,
    agent: agent.name,
    instructions: spec.instructions,
    meta,
    ...(spec.user === undefined ? {} : { user: spec.user }),
    ...(spec.type === undefined ? {} : { kind: spec.type }),
    ...(agent.stdin ? { stdin: true } : {}),
    ...(Object.keys(agent.limits).length === 0 ? {} : { limits: agent.limits }),
    template: agent.template,
    ...(agent.continueTemplate === undefined ? {} : { continueTemplate: agent.continueTemplate }),
    ...(extra.continues === undefined ? {} : { continues: extra.continues }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
  const tags = [
    ...Object.entries(meta).map(([k, v]) => metaTag(k, v)),
    ...(spec.user === undefined ? [] : [userTag(spec.user)]),
    ...(spec.type === undefined ? [] : [kindTag(spec.type)]),
    ...(extra.continues === undefined ? [] : [`continues:${extra.continues}`]),
  ];
  return {
    spec: {
      type: `${AGENT_TYPE_PREFIX}${agent.name}`,
      payload,
      maxAttempts: (spec.retries ?? agent.retries ?? 0) + 1,
      project: projectOf({ ...scope, cwd: callerCwd }, ctx),
      tags,
      ...(spec.key === undefined ? {} : { idempotencyKey: spec.key }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    },
    env: agent.env,
  };
}

async function view(ctx: OpContext, job: Job, deduplicated: boolean): Promise<Submitted> {
  const result = job.result as { summary?: unknown } | null;
  return {
    id: job.id,
    agent: job.type.slice(AGENT_TYPE_PREFIX.length),
    state: job.state,
    deduplicated,
    logPath: agentHost(ctx).logPath(job.id, Math.max(1, job.attempts)),
    ...(typeof result?.summary === "string" ? { summary: result.summary } : {}),
    ...(job.error === null ? {} : { error: job.error }),
  };
}

/** Enqueue built jobs atomically, hand each its environment, wake the daemon; wait when asked. */
async function submit(ctx: OpContext, built: Built[], waitSeconds: number | undefined): Promise<Submitted[]> {
  const commands = agentHost(ctx);
  await commands.ready();
  const callerEnv = ctx.env ?? process.env;
  const outcomes = await enqueueWithEnv(
    ctx,
    commands,
    built.map((b) => b.spec),
    built.map((b) => ({ ...callerEnv, ...b.env })),
  );
  const queued = outcomes.filter((o) => !o.deduplicated).map((o) => o.job.id);
  if (queued.length > 0) await commands.wake(queued);
  if (waitSeconds !== undefined && waitSeconds > 0) {
    const deadline = Date.now() + waitSeconds * 1000;
    for (const o of outcomes) await commands.waitFor(o.job.id, Math.max(0, deadline - Date.now()));
  }
  const out: Submitted[] = [];
  for (const o of outcomes) out.push(await view(ctx, await ctx.engine.get(o.job.id), o.deduplicated));
  return out;
}

const waitField = z
  .number()
  .min(0)
  .max(45)
  .optional()
  .describe("Wait up to this long (seconds) for the answer; wait_job waits longer.");

export const agentSubmit = defineOperation({
  name: "agent_submit",
  title: "Hand instructions to an agent CLI",
  summary: `Start agent jobs in the background: the instructions go to an agent CLI (configured in baton.yaml, a preset: ${Object.keys(AGENT_PRESETS).join(", ")}, or a command) never through a shell. One job, or many with \`jobs\` (atomically). Returns the ids at once; agent_show gives the answer.`,
  input: z.object({
    ...Object.fromEntries(Object.entries(jobFields).map(([k, v]) => [k, v.optional()])),
    jobs: z.array(jobSpec).min(1).max(1000).optional().describe("Many jobs at once (instead of one)."),
    waitSeconds: waitField,
    ...scopeFields,
  }) as z.ZodObject<
    { [K in keyof typeof jobFields]: z.ZodOptional<(typeof jobFields)[K]> } & {
      jobs: z.ZodOptional<z.ZodArray<typeof jobSpec>>;
      waitSeconds: typeof waitField;
    } & typeof scopeFields
  >,
  output: z.object({
    id: z.string().describe("The first (or only) job."),
    state: jobStateSchema,
    jobs: z.array(submittedSchema),
  }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const { jobs, waitSeconds, cwd, project, ...single } = input;
    const hasSingle = single.instructions !== undefined || single.agent !== undefined;
    if ((jobs === undefined) === !hasSingle) {
      throw new BatonError("INVALID_INPUT", "give `agent` and `instructions`, or `jobs` (not both)");
    }
    const specs: JobSpec[] = jobs ?? [jobSpec.parse(single)];
    const env = ctx.env ?? process.env;
    const callerCwd = cwd ?? ctx.cwd;
    const built = specs.map((s) =>
      build(s, resolveAgent(s.agent, s.command, callerCwd, env), ctx, { cwd, project }),
    );
    const submitted = await submit(ctx, built, waitSeconds);
    return { id: submitted[0]!.id, state: submitted[0]!.state, jobs: submitted };
  },
});

export const delegate = defineOperation({
  name: "delegate",
  title: "Delegate work to an agent and wait",
  summary:
    "Hand instructions to another agent (agent_submit) and wait up to waitSeconds (default 45) for its answer. Still running then: wait_job, then agent_show.",
  input: z.object({
    ...jobFields,
    waitSeconds: waitField,
    ...scopeFields,
  }),
  output: submittedSchema.extend({ finished: z.boolean() }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const { waitSeconds, cwd, project, ...spec } = input;
    const agent = resolveAgent(spec.agent, spec.command, cwd ?? ctx.cwd, ctx.env ?? process.env);
    const [done] = await submit(ctx, [build(spec, agent, ctx, { cwd, project })], waitSeconds ?? 45);
    return { ...done!, finished: isTerminal(done!.state) };
  },
});

/** The earlier exchange, for agents that cannot resume a session: the follow-up carries it as text. */
function withHistory(parent: AgentPayload, answer: string | undefined, instructions: string): string {
  return [
    "Earlier you were given these instructions:",
    parent.instructions,
    ...(answer === undefined ? [] : ["", "You answered:", answer]),
    "",
    "Now:",
    instructions,
  ].join("\n");
}

/** The `env:` of the agent's configuration now (it is never stored with the job); none for ad-hoc agents. */
function configuredEnv(p: AgentPayload, ctx: OpContext): Record<string, string> {
  try {
    return resolveAgent(p.agent, undefined, p.cwd, ctx.env ?? process.env).env;
  } catch {
    return {}; // an ad-hoc agent (--command), or one no longer configured
  }
}

export const agentContinue = defineOperation({
  name: "agent_continue",
  title: "Follow up a finished agent job",
  summary:
    "A new agent job linked to a finished one (same agent, cwd, metadata): it resumes the agent's session where the agent supports it (claude), else carries the earlier instructions and answer.",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    instructions: z
      .string()
      .min(1)
      .max(100 * 1024),
    waitSeconds: waitField,
  }),
  output: submittedSchema.extend({ continues: z.string() }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const parent = await resolveJob(ctx, input.id, input);
    if (!parent.type.startsWith(AGENT_TYPE_PREFIX) || !isAgentPayload(parent.payload)) {
      throw new BatonError("NOT_FOUND", `job ${parent.id} is not an agent job (type ${parent.type})`);
    }
    if (!isTerminal(parent.state)) {
      throw new BatonError(
        "INVALID_TRANSITION",
        `agent job ${parent.id} is ${parent.state}: continue it once it finished (baton wait ${parent.id})`,
      );
    }
    const p = parent.payload;
    const result = parent.result as { summary?: unknown; json?: { session_id?: unknown } } | null;
    const session = typeof result?.json?.session_id === "string" ? result.json.session_id : undefined;
    const template = p.template ?? p.argv.slice(0, 1);
    const resume = session !== undefined && p.continueTemplate !== undefined;
    const agent: ResolvedAgent = {
      name: p.agent,
      template,
      ...(p.continueTemplate === undefined ? {} : { continueTemplate: p.continueTemplate }),
      stdin: p.stdin === true,
      cwd: p.cwd,
      env: configuredEnv(p, ctx),
      limits: p.limits ?? {},
      source: parent.id,
    };
    const instructions = resume
      ? input.instructions
      : withHistory(p, typeof result?.summary === "string" ? result.summary : undefined, input.instructions);
    const spec: JobSpec = {
      agent: p.agent,
      instructions,
      ...(p.meta === undefined ? {} : { meta: p.meta }),
      ...(p.user === undefined ? {} : { user: p.user }),
      ...(p.kind === undefined ? {} : { type: p.kind }),
      retries: Math.max(0, parent.maxAttempts - 1),
      ...(p.timeoutMs === undefined ? {} : { timeout: `${Math.ceil(p.timeoutMs / 1000)}s` }),
    };
    const argv = agentArgvWith(
      resume ? p.continueTemplate! : template,
      instructions,
      p.stdin === true,
      session,
    );
    const scope = { cwd: p.cwd, ...(parent.project === null ? {} : { project: parent.project }) };
    const [done] = await submit(
      ctx,
      [build(spec, agent, ctx, scope, { argv, continues: parent.id })],
      input.waitSeconds,
    );
    return { ...done!, continues: parent.id };
  },
});
