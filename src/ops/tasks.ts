/**
 * Configured tasks (baton.yaml) as operations: list, describe, run, their runs and events, and the
 * agent contract (`capabilities`). Runs are `task:<name>` jobs in the same ledger, executed by the
 * daemon's supervisor.
 */
import { z } from "zod";
import { BatonError } from "../core/errors.js";
import type { Attempt, Job } from "../core/job.js";
import { jobStateSchema } from "../core/job.js";
import { isTerminal } from "../core/states.js";
import type { TaskDef } from "../tasks/config.js";
import { displayPath, findTask, requireTaskConfig } from "../tasks/config.js";
import { loadTaskPlugin, pluginInputsJson, pluginOutputsJson } from "../tasks/plugins.js";
import { notifyView } from "../tasks/redact.js";
import { inputsJsonSchema, requiredEnv, TASK_TYPE_PREFIX, taskType } from "../tasks/runner.js";
import { DRY_RUN_TAG, FORCED_TAG, insertRunRow, insertTaskRun, prepareTaskRun } from "../tasks/start.js";
import { nextFires } from "../tasks/schedules.js";
import {
  commandHome,
  configDir,
  idRef,
  projectOf,
  refScopeFields,
  resolveJob,
  scopeFields,
} from "./common.js";
import { ledgerChange, reviveSettler, settling } from "./settled.js";
import type { OpContext, Operation } from "./operation.js";
import { defineOperation } from "./operation.js";
import { eventView, eventViewSchema, jobSummary, jobSummarySchema } from "./views.js";

const taskName = z.string().min(1).max(64).describe("The task's name (from baton.yaml).");

type Scope = { cwd?: string | undefined; project?: string | undefined };

/** The task config a call means: its `project` (checked by `invoke()`, D145), else its cwd. */
function configOf(ctx: OpContext, input: Scope) {
  return requireTaskConfig(configDir(input, ctx), ctx.env ?? process.env);
}

const taskContractSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  kind: z.enum(["command", "plugin"]),
  scope: z.enum(["project", "personal"]),
  definedAt: z.string(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  dryRun: z
    .enum(["command", "function", "preview"])
    .describe("What --dry-run runs: nothing real either way."),
  inputs: z.record(z.string(), z.unknown()).describe("JSON Schema of the inputs (--input k=v)."),
  outputs: z.record(z.string(), z.unknown()).optional(),
  output: z.string().optional(),
  requiredEnv: z.array(z.string()),
  network: z.boolean(),
  destructive: z.boolean(),
  lock: z.boolean(),
  schedule: z.string().optional(),
  nextRun: z.string().optional(),
  timeout: z.string().optional(),
  notify: z
    .object({ on: z.array(z.string()), channels: z.array(z.string()), env: z.array(z.string()) })
    .optional()
    .describe("When the task notifies and through which channels (configured values are never shown)."),
  error: z.string().optional(),
});
type TaskContract = z.infer<typeof taskContractSchema>;

/** What an agent needs to know to run a task. Loads a plugin module (it is being used). */
export async function taskContract(def: TaskDef, base: string, strict = false): Promise<TaskContract> {
  const spec = def.spec;
  const contract: TaskContract = {
    name: def.name,
    kind: def.kind,
    scope: def.scope,
    definedAt: `${displayPath(def.file, base)}${def.line === undefined ? "" : `:${def.line}`}`,
    dryRun: spec.dry_run_command !== undefined ? "command" : "preview",
    inputs: inputsJsonSchema(def.spec.inputs ?? {}),
    requiredEnv: requiredEnv(spec),
    network: spec.network === true,
    destructive: spec.destructive === true,
    lock: spec.lock === true,
  };
  if (spec.description !== undefined) contract.description = spec.description;
  if (spec.command !== undefined) contract.command = spec.command;
  if (spec.outputs !== undefined) contract.outputs = spec.outputs;
  if (spec.output !== undefined) contract.output = spec.output;
  if (spec.timeout !== undefined) contract.timeout = spec.timeout;
  if (spec.notify !== undefined) contract.notify = notifyView(spec.notify);
  if (spec.schedule !== undefined) {
    contract.schedule = spec.schedule;
    const next = nextFires(spec.schedule, spec.timezone, 1)[0];
    if (next !== undefined) contract.nextRun = new Date(next).toISOString();
  }
  if (def.kind === "plugin") {
    try {
      const plugin = await loadTaskPlugin(def);
      if (contract.description === undefined && plugin.description !== undefined)
        contract.description = plugin.description;
      contract.dryRun = plugin.dryRun === undefined ? "preview" : "function";
      contract.inputs = pluginInputsJson(plugin);
      const outputs = pluginOutputsJson(plugin);
      if (outputs !== undefined) contract.outputs = outputs;
      contract.requiredEnv = [...new Set([...contract.requiredEnv, ...plugin.requiredEnv])].sort();
      contract.network ||= plugin.network;
      contract.destructive ||= plugin.destructive;
    } catch (error) {
      // One task's contract (describe) refuses a broken plugin; the list of all (capabilities) says why.
      if (strict) throw error;
      contract.error = (error as Error).message;
    }
  }
  return contract;
}

export const listConfiguredTasks = defineOperation({
  name: "list_configured_tasks",
  title: "List configured tasks",
  summary:
    "The tasks of baton.yaml (and ~/.baton/config.yaml) with their descriptions; run one with run_task (dry run first).",
  input: z.object({ ...scopeFields }),
  output: z.object({
    files: z.array(z.string()),
    tasks: z.array(
      z.object({
        name: z.string(),
        description: z.string().optional(),
        kind: z.string(),
        scope: z.string(),
        schedule: z.string().optional(),
        lastRun: z
          .object({ id: z.string(), state: jobStateSchema, createdAt: z.string(), dryRun: z.boolean() })
          .optional()
          .describe("The task's newest run (of this project's ledger)."),
      }),
    ),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const config = configOf(ctx, input);
    // Another project may have a task of the same name: only this project's runs count.
    const project = projectOf(input, ctx);
    const tasks = await Promise.all(
      config.tasks.map(async (t) => {
        const [last] = await ctx.engine.list(
          { types: [taskType(t.name)], project, includeArchived: true },
          { limit: 1 },
        );
        return {
          name: t.name,
          kind: t.kind,
          scope: t.scope,
          ...(t.spec.description === undefined ? {} : { description: t.spec.description }),
          ...(t.spec.schedule === undefined ? {} : { schedule: t.spec.schedule }),
          ...(last === undefined
            ? {}
            : {
                lastRun: {
                  id: last.id,
                  state: last.state,
                  createdAt: new Date(last.createdAt).toISOString(),
                  dryRun: last.tags.includes(DRY_RUN_TAG),
                },
              }),
        };
      }),
    );
    return { files: config.files, tasks };
  },
});

export const describeTask = defineOperation({
  name: "describe_task",
  title: "Describe a task",
  summary:
    "One configured task's contract: inputs (JSON Schema), outputs, required env, network/destructive flags.",
  input: z.object({ task: taskName, ...scopeFields }),
  output: taskContractSchema,
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const config = configOf(ctx, input);
    return taskContract(findTask(config, input.task), config.root, true);
  },
});

export const runTask = defineOperation({
  name: "run_task",
  title: "Run a configured task",
  summary:
    "Start a run of a baton.yaml task (a task:<name> job) and return its id at once; dryRun first: it has no side effects. Check it with job_status / wait_job / job_events.",
  input: z.object({
    task: taskName,
    inputs: z
      .record(z.string().max(100), z.union([z.string().max(64 * 1024), z.number(), z.boolean()]))
      .optional()
      .describe(
        "Input values, checked against describe_task's `inputs` schema: JSON numbers and booleans for number, integer and boolean inputs (or their text, as `--input k=v` gives it).",
      ),
    dryRun: z.boolean().optional().describe("Run the task's dry-run command, or report what would run."),
    force: z.boolean().optional().describe("Run even when a `lock: true` task is already running."),
    ...scopeFields,
  }),
  output: z.object({
    task: z.string(),
    dryRun: z.boolean(),
    id: z.string().optional(),
    state: jobStateSchema.optional(),
    deduplicated: z.boolean().optional(),
    pid: z
      .number()
      .optional()
      .describe("The run's process id, once it started (the receipt waits up to 5 s for the start)."),
    logPath: z.string().optional(),
    check: z.record(z.string(), z.string()).optional(),
    preview: z
      .object({
        argv: z.array(z.string()),
        cwd: z.string(),
        inputs: z.record(z.string(), z.unknown()),
        env: z.array(z.string()),
        timeoutMs: z.number().optional(),
        lock: z.boolean(),
      })
      .optional()
      .describe("A dry run without a dry-run command: what would run (nothing was started)."),
  }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const cwd = input.cwd ?? ctx.cwd;
    const config = configOf(ctx, input);
    const def = findTask(config, input.task);
    const dryRun = input.dryRun === true;
    const prepared = await prepareTaskRun(ctx.engine, def, {
      inputs: input.inputs ?? {},
      dryRun,
      force: input.force === true,
      cwd,
      env: ctx.env ?? process.env,
      home: commandHome(ctx),
      actor: ctx.actor,
      project: projectOf({ ...input, cwd }, ctx),
    });
    if (prepared.kind === "preview") return { task: def.name, dryRun, preview: prepared.preview };
    const commands = ctx.commands;
    if (commands === undefined)
      throw new BatonError("INVALID_INPUT", "this front-end cannot run tasks (no daemon access)");
    await commands.ready();
    const inserted = await insertTaskRun(ctx.engine, def, prepared, (row, lock) =>
      insertRunRow(ctx.engine, ctx.actor, row, lock),
    );
    const first = inserted!.job;
    await commands.wake([first.id]);
    // Like docket's receipt: the pid of the run's process once it started (a run waiting for a
    // slot or a due time has none yet, and the receipt says `queued`).
    const { job, pid } = await waitStarted(ctx, first, Date.now() + START_WAIT_MS);
    return {
      task: def.name,
      dryRun,
      id: job.id,
      state: job.state,
      deduplicated: inserted!.deduplicated,
      ...(pid === undefined ? {} : { pid }),
      logPath: commands.logPath(job.id, Math.max(1, job.attempts)),
      check: {
        status: `baton status ${job.id}`,
        logs: `baton logs ${job.id} -f`,
        events: `baton events ${job.id} -f`,
        wait: `baton wait ${job.id}`,
      },
    };
  },
});

/** How long a run's receipt waits for its process to start. */
const START_WAIT_MS = 5000;

/** The job once its process started (with the pid), or as it is at the deadline. */
async function waitStarted(ctx: OpContext, job: Job, deadline: number): Promise<{ job: Job; pid?: number }> {
  let current = job;
  for (;;) {
    const [started] = (await ctx.engine.events({ jobId: job.id, order: "desc", limit: 200 })).filter(
      (e) => e.kind === "process_started",
    );
    const pid = (started?.details as { pid?: unknown } | undefined)?.pid;
    if (typeof pid === "number") return { job: (await ctx.engine.store.getJob(job.id)) ?? current, pid };
    if (isTerminal(current.state) || Date.now() >= deadline) return { job: current };
    await ledgerChange(ctx, deadline - Date.now());
    current = (await ctx.engine.store.getJob(job.id)) ?? current;
  }
}

/** One run of a task as `runs` lists it: the job's summary plus what the run said and how it was started. */
const taskRunSchema = jobSummarySchema.extend({
  task: z.string(),
  summary: z.string().optional().describe("The run's summary (its result's, else its error's)."),
  exitCode: z.number().optional(),
  durationMs: z
    .number()
    .optional()
    .describe("From the first attempt's process start to the outcome (retries and their waits included)."),
  dryRun: z.boolean(),
  forced: z.boolean().describe("Started with --force: its task's lock was neither checked nor taken."),
  scheduled: z.boolean(),
});

function taskRun(job: Job, attempts: readonly Attempt[]): z.infer<typeof taskRunSchema> {
  const exitCode = attempts[attempts.length - 1]?.exitCode ?? undefined;
  // A job's startedAt is its last attempt's: a run retried twice took from its first start.
  const startedAt = attempts[0]?.startedAt ?? job.startedAt;
  const result = (job.result ?? {}) as { summary?: unknown };
  const summary = typeof result.summary === "string" ? result.summary : undefined;
  return {
    ...jobSummary(job),
    task: job.type.slice(TASK_TYPE_PREFIX.length),
    ...(summary === undefined ? {} : { summary: summary.slice(0, 200) }),
    ...(exitCode === undefined ? {} : { exitCode }),
    ...(startedAt !== null && job.finishedAt !== null
      ? { durationMs: Math.max(0, job.finishedAt - startedAt) }
      : {}),
    dryRun: job.tags.includes(DRY_RUN_TAG),
    forced: job.tags.includes(FORCED_TAG),
    scheduled: job.tags.includes("scheduled"),
  };
}

export const taskRuns = defineOperation({
  name: "task_runs",
  title: "Task runs",
  summary: "Recent runs of one configured task (or of all of them) in this project, newest first.",
  input: z.object({
    task: taskName.optional(),
    limit: z.number().int().min(1).max(1000).optional().describe("Default 20."),
    ...scopeFields,
  }),
  output: z.object({ runs: z.array(taskRunSchema) }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    let types: string[];
    if (input.task !== undefined) types = [taskType(input.task)];
    else types = configOf(ctx, input).tasks.map((t) => taskType(t.name));
    if (types.length === 0) return { runs: [] };
    // Runs of this project only: another project's task of the same name is another task.
    const jobs = await ctx.engine.list(
      { types, project: projectOf(input, ctx), includeArchived: true },
      { limit: input.limit ?? 20 },
    );
    // A name with no runs must be a configured task: else NOT_FOUND with "did you mean", as
    // describe_task says (a task taken out of baton.yaml still shows the runs it had).
    if (input.task !== undefined && jobs.length === 0) findTask(configOf(ctx, input), input.task);
    return { runs: await Promise.all(jobs.map(async (j) => taskRun(j, await ctx.engine.attempts(j.id)))) };
  },
});

export const jobEvents = defineOperation({
  name: "job_events",
  title: "Job events",
  summary:
    "A job's events oldest first: state changes, hook and notification results, and the JSONL lines a task printed (kind output). Pass afterId to get only newer ones.",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    afterId: z.number().int().min(0).optional().describe("Only events after this event id (a cursor)."),
    limit: z.number().int().min(1).max(10_000).optional().describe("Default 1000."),
    waitSeconds: z
      .number()
      .min(0)
      .max(60)
      .optional()
      .describe("Long poll: when there is no newer event and the job runs, wait up to this long for one."),
  }),
  output: z.object({
    id: z.string(),
    state: jobStateSchema,
    finished: z.boolean(),
    events: z.array(eventViewSchema),
    lastEventId: z.number(),
    more: z
      .boolean()
      .describe(
        "A full page (`limit` events): newer ones may follow; call again with afterId = lastEventId.",
      ),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    let job = await resolveJob(ctx, input.id, input);
    const limit = input.limit ?? 1000;
    const query = () =>
      ctx.engine.events({
        jobId: job.id,
        ...(input.afterId === undefined ? {} : { afterId: input.afterId }),
        limit,
      });
    // `finished` is decided before the events are read: once it holds, the job has written its
    // last event, so the read that follows includes it (read the other way round, a follower
    // could be told "finished" without the events written in between).
    let state = await settling(ctx, job);
    let events = await query();
    const deadline = Date.now() + (input.waitSeconds ?? 0) * 1000;
    while (events.length === 0 && !state.finished && Date.now() < deadline) {
      await reviveSettler(ctx, state.last);
      await ledgerChange(ctx, deadline - Date.now());
      job = await ctx.engine.get(job.id);
      state = await settling(ctx, job);
      events = await query();
    }
    let finished = state.finished;
    // A full page may have more after it: not finished until a follower has read them all.
    if (events.length === limit) finished = false;
    const last = events[events.length - 1]?.id ?? input.afterId ?? 0;
    return {
      id: job.id,
      state: job.state,
      finished,
      events: events.map(eventView),
      lastEventId: last,
      more: events.length === limit,
    };
  },
});

/** One operation as `capabilities` and `GET /api/ops` list it: its flags and its input as JSON Schema. */
export const operationEntrySchema = z.object({
  name: z.string(),
  title: z.string(),
  summary: z.string(),
  readOnly: z.boolean(),
  destructive: z.boolean(),
  idempotent: z.boolean(),
  input: z.record(z.string(), z.unknown()).describe("The input as JSON Schema."),
});

export function describeOperation(op: Operation): z.infer<typeof operationEntrySchema> {
  return {
    name: op.name,
    title: op.title,
    summary: op.summary,
    readOnly: op.readOnly,
    destructive: op.destructive,
    idempotent: op.idempotent,
    input: z.toJSONSchema(op.input, { io: "input", unrepresentable: "any" }),
  };
}

/**
 * `capabilities`: the agent contract — every operation of the catalogue (with its input schema and
 * flags) and every configured task. Built from the catalogue passed in (the catalogue lists it).
 */
export function capabilitiesOperation(catalogue: () => readonly Operation[]) {
  return defineOperation({
    name: "capabilities",
    title: "Capabilities",
    summary:
      "What baton can do here: every operation (input schema, readOnly/destructive flags) and every configured task (inputs, outputs, required env, network/destructive).",
    input: z.object({ ...scopeFields }),
    output: z.object({
      version: z.literal(1),
      operations: z.array(operationEntrySchema),
      tasks: z.array(taskContractSchema),
      configProblems: z.array(z.string()).optional(),
    }),
    readOnly: true,
    destructive: false,
    idempotent: true,
    agent: "full",
    async run(input, ctx) {
      const operations = catalogue().map(describeOperation);
      try {
        const config = configOf(ctx, input);
        const tasks = await Promise.all(config.tasks.map((t) => taskContract(t, config.root)));
        return { version: 1 as const, operations, tasks };
      } catch (error) {
        if (!(error instanceof BatonError) || error.code !== "CONFIG_INVALID") throw error;
        return { version: 1 as const, operations, tasks: [], configProblems: [error.message] };
      }
    },
  });
}
