/**
 * MCP tasks, kept in the ledger (D101). A client that declares tasks gets a task for a call of
 * `run_command`, `run_task`, `agent_submit` or `delegate` instead of waiting, and follows it with
 * `tasks/get`, `tasks/result`, `tasks/cancel` (and `tasks/list`). The task is the job the call
 * started: its id is the job's id, and its status, message and result are read from the ledger on
 * every request. Nothing about a task is held by the server process, so a new process (after the
 * chat, the host or the machine restarted) answers for a task an earlier one created.
 *
 * Both protocol eras the SDK serves are spoken:
 * - 2025-11-25 (`initialize`): the client asks per call with `params.task`; the tools say
 *   `execution.taskSupport: "optional"`; `capabilities.tasks` lists list, cancel and `tools/call`;
 *   `tasks/get`, `tasks/result` (blocks until the task ends), `tasks/list`, `tasks/cancel`.
 * - 2026-07-28 (`server/discover`): the `io.modelcontextprotocol/tasks` extension. The client
 *   declares it in each request's capabilities and the server decides: `resultType: "task"`, then
 *   `tasks/get` (the result rides on the completed task) and `tasks/cancel`.
 *
 * A call that starts no single job (a batch `agent_submit`, a dry run that only previews, a refused
 * call) answers at once: in the 2026 era as a plain result, in the 2025 era (where a task was asked
 * for) as an already finished task kept in this process for an hour.
 */
import { randomUUID } from "node:crypto";
import type { CallToolResult, McpServer, ServerContext } from "@modelcontextprotocol/server";
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { z } from "zod";
import { toBatonError } from "../core/errors.js";
import type { Job } from "../core/job.js";
import { runsProcess } from "../core/executors.js";
import type { JobState } from "../core/states.js";
import { isTerminal } from "../core/states.js";
import { getOperation } from "../ops/catalogue.js";
import { invoke } from "../ops/invoke.js";
import type { Operation, OpContext } from "../ops/operation.js";
import type { WaitAnswer } from "../ops/commands.js";
import { latestAttemptNumber, waitAnswers } from "../ops/commands.js";
import { ledgerChange } from "../ops/settled.js";
import { whyWaiting } from "../ops/waiting.js";
import { lastLine } from "./follow.js";
import type { ContextSource } from "./tools.js";
import { callTool } from "./tools.js";

/** The 2026-07-28 extension's identifier (capabilities, client and server). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
/** Where a 2025-11-25 `tasks/result` names its task. */
export const RELATED_TASK_META = "io.modelcontextprotocol/related-task";
const CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
export const FIRST_MODERN_VERSION = "2026-07-28";

/** The tools that answer with a task when the client takes tasks: each starts one long job. */
export const TASK_TOOLS: readonly string[] = ["run_command", "run_task", "agent_submit", "delegate"];
/** How often a client is told to poll. */
export const TASK_POLL_INTERVAL_MS = 1000;
/** How long an answer given as an already finished task (2025 era) is kept, in this process only. */
const ANSWER_TTL_MS = 3_600_000;
/** Lines of the job's log a finished task's result carries. */
const RESULT_LOG_LINES = 20;
const LIST_PAGE = 50;
/** Longest pause between two looks at a session's tasks when no ledger change woke the notifier. */
const STATUS_CHECK_MS = 1000;

type TaskStatus = "working" | "completed" | "failed" | "cancelled";

/** A task as both eras describe it; `result` once it ended. */
export interface TaskView {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  /** Null: kept until the job is cleaned from the ledger. */
  ttl: number | null;
  result?: CallToolResult;
  /** The job's state when the view was read (not sent: it decides when a status notification is due). */
  jobState?: JobState;
}

/** Answers given as finished tasks in the 2025 era (no job to read them back from). */
const answers = new Map<string, { view: TaskView; expires: number }>();

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function operation(name: string): Operation {
  const op = getOperation(name);
  if (op === undefined)
    throw new ProtocolError(ProtocolErrorCode.InternalError, `operation ${name} is missing`);
  return op;
}

function notFound(taskId: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `no task '${taskId}' (tasks are the jobs baton runs)`,
  );
}

function textResult(data: Record<string, unknown>, isError: boolean): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(data) }],
    structuredContent: data,
    ...(isError ? { isError: true } : {}),
  };
}

/**
 * What a working task says: the job's own state, then its last log line while it runs, or why it
 * waits while it does not (`queued: waiting for a run slot: …`) — never an earlier attempt's line.
 */
async function workingMessage(context: OpContext, job: Job): Promise<string> {
  if (job.state === "running") {
    const line = lastLine(context, job.id, await latestAttemptNumber(context, job));
    return line === undefined ? "running" : `running: ${line}`;
  }
  if (isTerminal(job.state)) return `${job.state}; its hooks and notifications are still running`;
  const [reason] = await whyWaiting(context, job).catch(() => []);
  return reason === undefined ? job.state : `${job.state}: ${reason}`;
}

/**
 * The task a job is: `working` until it ended and its hooks ran (wait_job's `finished`). The one
 * view `tasks/get`, `tasks/list`, `tasks/cancel` and the status notifications all describe;
 * `withResult: false` skips reading the result's log (a listing shows no results).
 */
async function jobView(context: OpContext, job: Job, withResult = true): Promise<TaskView> {
  const outcome = (await invoke(
    operation("wait_job"),
    { id: job.id, timeoutSeconds: 0 },
    context,
  )) as WaitAnswer;
  return viewFrom(context, await context.engine.get(job.id), outcome, withResult);
}

/** The view of a job read at the moment `outcome` (wait_job's answer) describes. */
async function viewFrom(
  context: OpContext,
  fresh: Job,
  outcome: WaitAnswer,
  withResult: boolean,
): Promise<TaskView> {
  const base = {
    jobState: fresh.state,
    taskId: fresh.id,
    createdAt: iso(fresh.createdAt),
    lastUpdatedAt: iso(fresh.updatedAt),
    ttl: null,
  };
  if (!outcome.finished)
    return { ...base, status: "working", statusMessage: await workingMessage(context, fresh) };
  const status: TaskStatus =
    fresh.state === "succeeded" ? "completed" : fresh.state === "cancelled" ? "cancelled" : "failed";
  const exit = outcome.exitCode === undefined ? "" : ` (exit ${outcome.exitCode})`;
  const ended = { ...base, status, statusMessage: `${outcome.message}${exit}` };
  if (!withResult) return ended;
  const summary = (fresh.result as { summary?: unknown } | null)?.summary;
  let log: string | undefined;
  const attempt = Math.max(1, await latestAttemptNumber(context, fresh));
  if (context.commands?.hasLog(fresh.id, attempt) === true) {
    try {
      log = context.commands.readLog(fresh.id, attempt, "output", RESULT_LOG_LINES);
    } catch {
      log = undefined;
    }
  }
  const data: Record<string, unknown> = {
    ...outcome,
    ...(typeof summary === "string" ? { summary } : {}),
    ...(fresh.error === null ? {} : { error: fresh.error }),
    ...(log === undefined ? {} : { log }),
  };
  return { ...ended, result: textResult(data, status !== "completed") };
}

/** The job behind a task id, or the protocol's invalid-params error. */
async function taskJob(context: OpContext, taskId: string): Promise<Job> {
  let job: Job;
  try {
    job = await context.engine.get(taskId);
  } catch (error) {
    if (toBatonError(error).code === "JOB_NOT_FOUND") throw notFound(taskId);
    throw error;
  }
  if (!runsProcess(job.type)) throw notFound(taskId);
  return job;
}

export async function viewOf(context: OpContext, taskId: string): Promise<TaskView> {
  const now = Date.now();
  for (const [id, kept] of answers) if (kept.expires <= now) answers.delete(id);
  const kept = answers.get(taskId);
  if (kept !== undefined) return kept.view;
  return jobView(context, await taskJob(context, taskId));
}

/** A 2025-11-25 `Task`. */
function taskV1(view: TaskView): Record<string, unknown> {
  return {
    taskId: view.taskId,
    status: view.status,
    ...(view.statusMessage === undefined ? {} : { statusMessage: view.statusMessage }),
    createdAt: view.createdAt,
    lastUpdatedAt: view.lastUpdatedAt,
    ttl: view.ttl,
    pollInterval: TASK_POLL_INTERVAL_MS,
  };
}

/**
 * A 2026-07-28 task. A job that failed is a `completed` task whose result has `isError` (the
 * tool ran and reported a failure, as a plain call would); `failed` is kept for protocol errors.
 */
export function taskV2(view: TaskView, detailed: boolean): Record<string, unknown> {
  const status = statusV2(view);
  return {
    taskId: view.taskId,
    status,
    ...(view.statusMessage === undefined ? {} : { statusMessage: view.statusMessage }),
    createdAt: view.createdAt,
    lastUpdatedAt: view.lastUpdatedAt,
    ttlMs: view.ttl,
    pollIntervalMs: TASK_POLL_INTERVAL_MS,
    ...(detailed && status === "completed" && view.result !== undefined ? { result: view.result } : {}),
  };
}

/** A task's status in the 2026-07-28 vocabulary: a failed job is a `completed` task (see taskV2). */
function statusV2(view: TaskView): Exclude<TaskStatus, "failed"> {
  return view.status === "failed" ? "completed" : view.status;
}

/** What a status notification reports: a change of either is worth one. */
export function statusKey(view: TaskView): string {
  return `${view.status}:${view.jobState ?? ""}`;
}

/**
 * Follow tasks in the ledger: `onChange` gets a task's view each time its status or its job's state
 * changes (queued → running → its end; the last one when it ended), until no watched task is
 * working or `open()` says nobody listens any more. `watched` maps a task id to the status key last
 * sent and may grow while this runs. Woken by the ledger's change events (the WAL watch wait_job
 * uses; at least every second). Both eras' status notifications are sent from here.
 */
export async function followTasks(
  context: OpContext,
  watched: Map<string, string>,
  open: () => boolean,
  onChange: (view: TaskView) => Promise<void>,
): Promise<void> {
  while (watched.size > 0 && open()) {
    await ledgerChange(context, STATUS_CHECK_MS);
    for (const [taskId, sent] of [...watched]) {
      if (!open()) return;
      const job = await context.engine.get(taskId).catch(() => undefined);
      if (job === undefined) {
        watched.delete(taskId);
        continue;
      }
      if (!isTerminal(job.state) && sent === `working:${job.state}`) continue;
      const view = await jobView(context, job);
      const key = statusKey(view);
      if (key === sent) continue;
      if (view.status === "working") watched.set(taskId, key);
      else watched.delete(taskId);
      await onChange(view);
    }
  }
}

/**
 * `notifications/tasks/status` (2025-11-25) for the tasks a client created in this session, as
 * `tasks/get` shows them, only while the session is connected and has a task that has not ended.
 * The 2026-07-28 era's `notifications/tasks` go to a `subscriptions/listen` instead (task-listen.ts).
 */
class StatusNotifier {
  /** Task id → the status key last sent. */
  private readonly watched = new Map<string, string>();
  private looping = false;

  constructor(
    private readonly server: McpServer,
    private readonly ctx: ContextSource,
  ) {}

  watch(view: TaskView): void {
    if (view.status !== "working") return;
    this.watched.set(view.taskId, statusKey(view));
    if (this.looping) return;
    this.looping = true;
    void this.loop().finally(() => (this.looping = false));
  }

  private async loop(): Promise<void> {
    try {
      await followTasks(
        await this.ctx(),
        this.watched,
        () => this.server.isConnected(),
        (view) =>
          this.server.server.notification({ method: "notifications/tasks/status", params: taskV1(view) }),
      );
    } catch {
      // The session closed under a send, or the ledger did: nobody is left to tell.
    }
  }
}

function isModern(server: McpServer): boolean {
  const version = server.server.getNegotiatedProtocolVersion();
  return version !== undefined && version >= FIRST_MODERN_VERSION;
}

/** True when a 2026-era request envelope (its `_meta`) declares the tasks extension. */
export function envelopeDeclaresTasks(envelope: unknown): boolean {
  const caps = (envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES] as
    { extensions?: Record<string, unknown> } | undefined;
  return caps?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/** True when a 2026-era request's client capabilities include the tasks extension. */
function declaresExtension(request: ServerContext): boolean {
  return envelopeDeclaresTasks(request.mcpReq.envelope);
}

/** Arguments for a call made as a task: the task is how the caller waits, so `delegate` does not. */
function taskArguments(op: Operation, args: unknown): unknown {
  if (op.name !== "delegate" || args === null || typeof args !== "object" || "waitSeconds" in args)
    return args;
  return { ...(args as Record<string, unknown>), waitSeconds: 0 };
}

/** The single job a tool's answer started, if it started exactly one. */
function startedJob(result: CallToolResult): string | undefined {
  if (result.isError === true) return undefined;
  const data = result.structuredContent as { id?: unknown; jobs?: unknown } | undefined;
  if (typeof data?.id !== "string") return undefined;
  if (Array.isArray(data.jobs) && data.jobs.length !== 1) return undefined;
  return data.id;
}

type SdkHandler = (request: unknown, ctx: ServerContext) => Promise<unknown>;

/**
 * The SDK's own `tools/call` handler, to hand it every call that is not a task. The SDK gives a
 * tool's callback no access to `params.task`, so the method's handler is wrapped instead.
 */
function sdkToolsCall(server: McpServer): SdkHandler {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, SdkHandler> })
    ._requestHandlers;
  const handler = handlers?.get("tools/call");
  if (handler === undefined)
    throw new Error(
      "baton mcp: the SDK's tools/call handler was not found (@modelcontextprotocol/server changed)",
    );
  return handler;
}

/** What a task-capable server declares (merged into its capabilities at construction). */
export const TASK_CAPABILITIES = {
  tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
  extensions: { [TASKS_EXTENSION]: {} },
};

/** The task tools among these operations (empty: the server offers no tasks). */
export function taskOperations(exposed: readonly Operation[]): Operation[] {
  return exposed.filter((op) => TASK_TOOLS.includes(op.name));
}

const taskIdParams = z.looseObject({ taskId: z.string() });

/**
 * Serve tasks on `server` for these operations (already registered as tools): mark their tools,
 * wrap `tools/call`, and answer the `tasks/*` methods from the ledger.
 */
export function registerTasks(server: McpServer, taskOps: readonly Operation[], ctx: ContextSource): void {
  const byName = new Map(taskOps.map((op) => [op.name, op]));
  const tools = (server as unknown as { _registeredTools?: Record<string, { execution?: unknown }> })
    ._registeredTools;
  for (const name of byName.keys()) {
    const tool = tools?.[name];
    if (tool !== undefined) tool.execution = { taskSupport: "optional" };
  }
  const plain = sdkToolsCall(server);
  const notifier = new StatusNotifier(server, ctx);

  server.server.setRequestHandler("tools/call", async (request, extra) => {
    const op = byName.get(request.params.name);
    const modern = isModern(server);
    const asked = modern
      ? declaresExtension(extra)
      : (request.params as { task?: unknown }).task !== undefined;
    if (op === undefined || !asked) return (await plain(request, extra)) as CallToolResult;

    const result = await callTool(op, taskArguments(op, request.params.arguments ?? {}), extra, ctx);
    const jobId = startedJob(result);
    if (jobId === undefined) {
      if (modern) return result;
      const now = iso(Date.now());
      const view: TaskView = {
        taskId: `answer-${randomUUID()}`,
        status: result.isError === true ? "failed" : "completed",
        statusMessage:
          result.isError === true ? "the call was refused: see tasks/result" : "answered at once",
        createdAt: now,
        lastUpdatedAt: now,
        ttl: ANSWER_TTL_MS,
        result,
      };
      answers.set(view.taskId, { view, expires: Date.now() + ANSWER_TTL_MS });
      return { content: [{ type: "text", text: view.statusMessage! }], task: taskV1(view) };
    }
    const context = await ctx();
    const view = await jobView(context, await context.engine.get(jobId));
    if (!modern) notifier.watch(view);
    const content = [
      {
        type: "text" as const,
        text: `${op.name} started job ${jobId} as task ${view.taskId}: ${result.content[0]?.type === "text" ? result.content[0].text : ""}`,
      },
    ];
    return modern ? { resultType: "task", ...taskV2(view, false), content } : { content, task: taskV1(view) };
  });

  server.server.setRequestHandler("tasks/get", { params: taskIdParams }, async (params) => {
    const view = await viewOf(await ctx(), params.taskId);
    return isModern(server) ? taskV2(view, true) : taskV1(view);
  });

  server.server.setRequestHandler("tasks/cancel", { params: taskIdParams }, async (params) => {
    const context = await ctx();
    const before = await viewOf(context, params.taskId);
    if (before.status !== "working") {
      // In the era's own words: a failed command is a `completed` task in 2026-07-28.
      const status = isModern(server) ? statusV2(before) : before.status;
      const how = before.statusMessage === undefined ? "" : `; ${before.statusMessage}`;
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `task '${params.taskId}' has already ended (${status}${how}): nothing to cancel`,
      );
    }
    await invoke(operation("stop_job"), { id: params.taskId }, context);
    const after = await viewOf(context, params.taskId);
    return isModern(server) ? {} : taskV1(after);
  });

  // 2025-11-25 only (the SDK answers "method not found" for them in the 2026 era).
  server.server.setRequestHandler("tasks/result", { params: taskIdParams }, async (params, extra) => {
    const context = await ctx();
    let view = await viewOf(context, params.taskId);
    while (view.result === undefined && !extra.mcpReq.signal.aborted) {
      // wait_job waits for the job and its hooks (at most 10 s a round), then the view is read again.
      await invoke(operation("wait_job"), { id: params.taskId, timeoutSeconds: 10 }, context);
      view = await viewOf(context, params.taskId);
    }
    const result = view.result ?? textResult({ taskId: params.taskId, state: view.status }, true);
    return { ...result, _meta: { ...result._meta, [RELATED_TASK_META]: { taskId: view.taskId } } };
  });

  server.server.setRequestHandler(
    "tasks/list",
    { params: z.looseObject({ cursor: z.string().optional() }) },
    async (params) => {
      const context = await ctx();
      const found: Job[] = [];
      let after = params.cursor;
      let more = true;
      while (found.length < LIST_PAGE && more) {
        const page = await context.engine.list(
          { includeArchived: false },
          { limit: 200, ...(after === undefined ? {} : { after }) },
        );
        more = page.length === 200;
        for (const job of page) {
          after = job.id;
          if (!runsProcess(job.type)) continue;
          found.push(job);
          if (found.length === LIST_PAGE) break;
        }
      }
      // The same view tasks/get gives (D101): one status and statusMessage per task, whichever asks.
      // The jobs as listed, their exit codes in one read (not wait_job and two reads per job).
      const outcomes = await waitAnswers(context, found);
      const tasks: Record<string, unknown>[] = [];
      for (const [i, job] of found.entries())
        tasks.push(taskV1(await viewFrom(context, job, outcomes[i]!, false)));
      const last = found[found.length - 1];
      return { tasks, ...(found.length === LIST_PAGE && last !== undefined ? { nextCursor: last.id } : {}) };
    },
  );
}
