/**
 * Following long work from the chat: progress notifications while a long-polling tool waits,
 * completions of job references, workflows and projects from the ledger and of configured task
 * names from baton.yaml, and the server's
 * warnings as MCP log messages.
 */
import { EventEmitter } from "node:events";
import type { McpServer, ServerContext } from "@modelcontextprotocol/server";
import { isTerminal } from "../core/states.js";
import { getOperation } from "../ops/catalogue.js";
import { resolveJob, withProjectRoot } from "../ops/common.js";
import { latestAttemptNumber } from "../ops/commands.js";
import { invoke } from "../ops/invoke.js";
import { boundWaits } from "../ops/wire.js";
import type { Operation, OpContext } from "../ops/operation.js";

/** Where calls get their context (the same as tools.ts' ContextSource). */
type ContextSource = () => Promise<OpContext>;

/** How often a waiting tool call reports progress. */
export const PROGRESS_INTERVAL_MS = 1000;
/** Completions offered at most (the spec's own cap is 100). */
const MAX_COMPLETIONS = 50;

/** True for operations that may block up to `timeoutSeconds` (wait_job and any added later). */
export function isLongPolling(op: Operation): boolean {
  const shape = (op.input as { shape?: Record<string, unknown> }).shape;
  return shape !== undefined && "timeoutSeconds" in shape;
}

/**
 * Terminal control sequences: CSI (colours, cursor moves; ESC [ or the 8-bit CSI), OSC (titles,
 * links; ended by BEL or ESC \\), and the other two-character escapes.
 */
const TERMINAL_SEQUENCE =
  /\u001b\[[0-?]*[ -/]*[@-~]|\u009b[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[ -/]*[0-~]?/g;
/** Control characters left once the sequences are gone (a tab becomes a space). */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/**
 * A log line as plain text for a progress or status message: what a terminal would show of it
 * (the part after its last carriage return), without colour codes or other control sequences.
 *
 * @example plainLine("\u001b[31mred\u001b[0m") // "red"
 */
export function plainLine(line: string): string {
  const shown =
    line
      .split("\r")
      .filter((part) => part !== "")
      .pop() ?? "";
  return shown.replace(TERMINAL_SEQUENCE, "").replace(/\t/g, " ").replace(CONTROL, "").trim();
}

/** The last line of a job attempt's output, as plain text ({@link plainLine}), at most 200 characters. */
export function lastLine(context: OpContext, jobId: string, attempt: number): string | undefined {
  if (context.commands === undefined || attempt < 1) return undefined;
  try {
    const text = context.commands.readLog(jobId, attempt, "output", 1).trimEnd();
    const line = plainLine(text.split("\n").pop() ?? "");
    return line === "" ? undefined : line.slice(0, 200);
  } catch {
    return undefined;
  }
}

/**
 * While `work` runs, send `notifications/progress` every {@link PROGRESS_INTERVAL_MS} when the
 * request carried a progress token: elapsed seconds out of the timeout, and the job's state and
 * last log line as the message. Without a token, or for a call that is not long-polling, it just
 * runs `work`.
 */
export async function withProgress<T>(
  op: Operation,
  args: unknown,
  context: OpContext,
  request: ServerContext | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const token = request?.mcpReq._meta?.progressToken;
  if (token === undefined || request === undefined || !isLongPolling(op)) return work();
  const input = (args ?? {}) as { id?: unknown; project?: unknown; timeoutSeconds?: unknown };
  // The job the call waits for: its reference looked up where the call looks it up (D130).
  const scope = typeof input.project === "string" ? { project: input.project } : {};
  // The wait the call really gets: capped at 45 s over MCP (boundWaits), so `total` is too.
  const { timeoutSeconds } = boundWaits(input) as { timeoutSeconds?: unknown };
  const total = typeof timeoutSeconds === "number" ? timeoutSeconds : undefined;
  const started = Date.now();
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      let message = "waiting";
      if (typeof input.id === "string") {
        const job = await resolveJob(context, input.id, withProjectRoot(op.input, scope, context));
        const line = lastLine(context, job.id, await latestAttemptNumber(context, job));
        message = `${job.state}${isTerminal(job.state) ? "" : ` for ${Math.round((Date.now() - started) / 1000)} s`}${line === undefined ? "" : `: ${line}`}`;
      }
      const progress = Math.round((Date.now() - started) / 100) / 10;
      await request.mcpReq.notify({
        method: "notifications/progress",
        params: { progressToken: token, progress, ...(total === undefined ? {} : { total }), message },
      });
    } catch {
      // A progress message that cannot be sent or read is not worth failing the call for.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), PROGRESS_INTERVAL_MS);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Ids of jobs that start with `prefix` (case-insensitive), unfinished ones first, newest first. */
export async function completeJobId(ctx: ContextSource, prefix: string): Promise<string[]> {
  const context = await ctx();
  const wanted = prefix.trim().toUpperCase();
  const jobs = await context.engine.list({ includeArchived: false }, { limit: 500 });
  const matching = jobs.filter((j) => j.id.startsWith(wanted));
  matching.sort((a, b) => Number(isTerminal(a.state)) - Number(isTerminal(b.state)));
  return matching.slice(0, MAX_COMPLETIONS).map((j) => j.id);
}

/** Workflow names in the ledger that start with `prefix`, those with unfinished work first. */
export async function completeWorkflow(ctx: ContextSource, prefix: string): Promise<string[]> {
  const context = await ctx();
  const jobs = await context.engine.list({ includeArchived: false }, { limit: 2000 });
  const live = new Set<string>();
  const all = new Set<string>();
  for (const job of jobs) {
    if (job.workflow === null || !job.workflow.startsWith(prefix)) continue;
    all.add(job.workflow);
    if (!isTerminal(job.state)) live.add(job.workflow);
  }
  return [...live, ...[...all].filter((w) => !live.has(w))].slice(0, MAX_COMPLETIONS);
}

/** Project directories in the ledger that start with `prefix`. */
export async function completeProject(ctx: ContextSource, prefix: string): Promise<string[]> {
  const context = await ctx();
  const jobs = await context.engine.list({ includeArchived: false }, { limit: 2000 });
  const projects = new Set<string>();
  for (const job of jobs)
    if (job.project !== null && job.project.startsWith(prefix)) projects.add(job.project);
  return [...projects].slice(0, MAX_COMPLETIONS);
}

/**
 * Names of the configured tasks (baton.yaml in `cwd`, default the server's, and the personal
 * config) that start with `prefix`, in the config's order. A folder without a readable config
 * completes nothing.
 */
export async function completeTaskName(ctx: ContextSource, prefix: string, cwd?: string): Promise<string[]> {
  const context = await ctx();
  try {
    const { tasks } = (await invoke(getOperation("list_configured_tasks")!, cwd ? { cwd } : {}, context)) as {
      tasks: { name: string }[];
    };
    return tasks
      .map((t) => t.name)
      .filter((name) => name.startsWith(prefix))
      .slice(0, MAX_COMPLETIONS);
  } catch {
    return []; // a folder without a readable config completes nothing
  }
}

/**
 * The server's warnings (a store that cannot open, a daemon that cannot be reached) for every
 * connected client that enabled logging: one hub per process, each MCP server instance listens.
 */
export class Warnings {
  private readonly events = new EventEmitter();
  private readonly recent: string[] = [];

  warn(message: string): void {
    this.recent.push(message);
    if (this.recent.length > 20) this.recent.shift();
    this.events.emit("warning", message);
  }

  /** Forward warnings (the recent ones first) to `server` as `notifications/message`, level warning. */
  attach(server: McpServer): () => void {
    const send = (message: string) => {
      if (!server.isConnected()) return;
      server.sendLoggingMessage({ level: "warning", logger: "baton", data: message }).catch(() => undefined);
    };
    this.events.on("warning", send);
    server.server.oninitialized = () => {
      for (const message of this.recent) send(message);
    };
    return () => this.events.off("warning", send);
  }
}
