/**
 * resume_session: what is left, within a token budget (characters / 4), newest context first.
 *
 * Each remaining task is one compact line, `<id> [state] [[type]] ["name"] <payload>`, because a new
 * chat pays for every token of the answer: the state is left out when it is `queued` (most lines),
 * and a flat payload reads `key=value …` instead of escaped JSON. A 100-task workflow with short
 * payloads fits in 1,500 tokens. `check_task` gives the full record of any one of them.
 */
import { z } from "zod";
import { parseTimeRef } from "../core/duration.js";
import { InvalidInputError } from "../core/errors.js";
import type { Job } from "../core/job.js";
import { LIVE_STATES, isTerminal } from "../core/states.js";
import type { OpContext } from "./operation.js";
import { briefJson } from "./views.js";

const workflowSchema = z.object({
  workflow: z.string(),
  done: z.number(),
  remaining: z.number(),
  failed: z.number(),
  lastDone: z.string().optional().describe("Last finished task and its evidence."),
  tasks: z
    .array(z.string())
    .describe('`<id> [state, omitted when queued] ["name"] <payload as key=value or JSON>`, in order.'),
  more: z.number().describe("Tasks left out to fit the budget."),
  failedTasks: z.array(z.string()).optional().describe("Newest failed tasks (up to 3), with their error."),
});

export const resumeOutputSchema = z.object({
  project: z.string(),
  cursor: z.string().describe("Pass as `since` next time."),
  remaining: z.number(),
  workflows: z.array(workflowSchema),
  finishedSince: z.array(z.string()).optional(),
  notShown: z
    .object({
      workflows: z.number(),
      first: z.array(z.object({ workflow: z.string(), remaining: z.number() })),
    })
    .optional()
    .describe('Workflows the budget left out: count, first names ("(none)": no workflow).'),
  unknownWorkflow: z.string().optional().describe("Set when no task here ever had that workflow."),
  hint: z.string(),
});
export type ResumeOutput = z.infer<typeof resumeOutputSchema>;

const NO_WORKFLOW = "(none)";
/** What resume counts (and lists) as failed. */
const FAILED_STATES = ["failed", "timed_out", "cancelled"] as const;

/** A string that reads unambiguously without quotes. */
const BARE = /^[^\s"'=\\\u0000-\u001f\u007f]+$/;
const SIMPLE_KEY = /^[A-Za-z0-9_.-]+$/;

function atom(value: unknown): string | undefined {
  if (typeof value === "string") return BARE.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return undefined;
}

/** A payload in as few characters as possible: `key=value …` for a flat object, else JSON. */
function briefPayload(payload: unknown, max: number): string {
  let text: string | undefined;
  if (payload !== null && typeof payload === "object" && !Array.isArray(payload)) {
    const parts = Object.entries(payload).map(([key, value]) => {
      const shown = atom(value);
      return shown === undefined || !SIMPLE_KEY.test(key) ? undefined : `${key}=${shown}`;
    });
    if (parts.every((part) => part !== undefined)) text = parts.join(" ");
  } else {
    text = atom(payload);
  }
  text ??= JSON.stringify(payload) ?? "null";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function line(job: Job): string {
  const state = job.state === "queued" ? "" : ` ${job.state}`;
  const type = job.type === "task" ? "" : ` [${job.type}]`;
  const name = job.name === null ? "" : ` ${JSON.stringify(job.name)}`;
  const payload = briefPayload(job.payload, 80);
  const error = job.error === null ? "" : ` error=${briefJson(job.error, 60)}`;
  return `${job.id}${state}${type}${name}${payload === "" ? "" : ` ${payload}`}${error}`;
}

const tokens = (value: unknown): number => Math.ceil(JSON.stringify(value).length / 4);

/**
 * A resume cursor (`e123`: the event id) or a time (`yesterday`, `2h`, an ISO date); INVALID_INPUT
 * when it is neither. The schema checks `since` with it, so a refusal names the field.
 */
export function readCursor(cursor: string, now: number): { event: number } | { at: number } {
  const m = /^e(\d+)$/.exec(cursor);
  if (m !== null) return { event: Number(m[1]) };
  try {
    return { at: parseTimeRef(cursor, now) };
  } catch {
    throw new InvalidInputError(
      `'${cursor}' is not a resume cursor (they look like e123) or a time (yesterday, 2h, 2026-01-31)`,
    );
  }
}

/**
 * `since` as the id of the last event already seen: a cursor (`e123`), or a time (`yesterday`,
 * `2h`, an ISO date), read as "every event from then on".
 */
async function parseCursor(ctx: OpContext, cursor: string | undefined): Promise<number | undefined> {
  if (cursor === undefined) return undefined;
  const read = readCursor(cursor, ctx.engine.clock.now());
  if ("event" in read) return read.event;
  const { at } = read;
  const [first] = await ctx.engine.events({ since: at, limit: 1, order: "asc" });
  if (first !== undefined) return first.id - 1;
  const [latest] = await ctx.engine.events({ limit: 1, order: "desc" });
  return latest?.id ?? 0;
}

export async function buildResume(
  ctx: OpContext,
  options: { project: string; workflow: string | undefined; budget: number; since: string | undefined },
): Promise<ResumeOutput> {
  const { engine } = ctx;
  const afterId = await parseCursor(ctx, options.since);
  // "" is the tasks in no workflow (no workflow can be named ""); so is "(none)", the label resume
  // shows them under, unless a workflow is really named so (D113).
  let workflow: string | null | undefined = options.workflow === "" ? null : options.workflow;
  if (
    workflow === NO_WORKFLOW &&
    (await engine.count({ project: options.project, workflow, includeArchived: true })) === 0
  )
    workflow = null;
  const scope = { project: options.project, ...(workflow === undefined ? {} : { workflow }) };
  // events() filters by a workflow name only: for the tasks in no workflow, filter the jobs.
  const eventScope = { project: options.project, ...(typeof workflow === "string" ? { workflow } : {}) };
  const [latest] = await engine.events({ limit: 1, order: "desc" });
  const cursor = `e${latest?.id ?? 0}`;

  let live: Job[];
  let finishedSince: Job[] = [];
  if (afterId !== undefined) {
    const changed = await engine.events({ ...eventScope, afterId, limit: 10_000 });
    const ids = [...new Set(changed.map((e) => e.jobId).filter((id): id is string => id !== null))];
    const jobs = (await Promise.all(ids.map((id) => engine.store.getJob(id)))).filter(
      (j): j is Job => j !== undefined && (workflow !== null || j.workflow === null),
    );
    live = jobs.filter((j) => !isTerminal(j.state) && j.archivedAt === null);
    finishedSince = jobs.filter((j) => isTerminal(j.state));
  } else {
    live = await engine.list({ ...scope, states: LIVE_STATES }, { limit: 10_000, order: "asc" });
  }

  // Group by workflow; the workflow with the most recent activity (any event: a task enqueued,
  // claimed, completed…) comes first, so progress on a workflow keeps it on top.
  const groups = new Map<string, Job[]>();
  for (const job of live) {
    const key = job.workflow ?? NO_WORKFLOW;
    groups.set(key, [...(groups.get(key) ?? []), job]);
  }
  const activity = new Map<string, { at: number; id: number }>();
  for (const [workflow, jobs] of groups) {
    const latest = Math.max(...jobs.map((j) => j.updatedAt));
    const [event] =
      workflow === NO_WORKFLOW
        ? []
        : await engine.events({ project: options.project, workflow, limit: 1, order: "desc" });
    activity.set(
      workflow,
      event === undefined ? { at: latest, id: 0 } : { at: Math.max(latest, event.at), id: event.id },
    );
  }
  const ordered = [...groups.entries()].sort((a, b) => {
    const x = activity.get(a[0])!;
    const y = activity.get(b[0])!;
    return y.at - x.at || y.id - x.id;
  });

  // The real number of unfinished tasks in scope, also when only changes are listed.
  const remaining =
    afterId === undefined ? live.length : await engine.count({ ...scope, states: LIVE_STATES });
  // A name no task ever had can't match: say so rather than "nothing left".
  const unknown =
    typeof workflow === "string" &&
    remaining === 0 &&
    (await engine.count({ project: options.project, workflow, includeArchived: true })) === 0;
  const baseHint = unknown
    ? `No task of ${options.project} is in a workflow named ${JSON.stringify(workflow)}: list_workflows names them; workflow "" is the tasks in no workflow.`
    : remaining === 0
      ? "Nothing is left to do here."
      : live.length === 0
        ? `Nothing changed since the cursor; ${remaining} task(s) still left.`
        : "Do the first task of the first workflow; complete_task each with evidence.";
  const out: ResumeOutput = { project: options.project, cursor, remaining, workflows: [], hint: baseHint };
  if (unknown) out.unknownWorkflow = workflow as string;
  if (finishedSince.length > 0) out.finishedSince = finishedSince.map(line);

  for (const [workflow, jobs] of ordered) {
    const filter =
      workflow === NO_WORKFLOW
        ? { project: options.project, workflow: null }
        : { project: options.project, workflow };
    const counts = await engine.countByState(filter);
    const n = (states: readonly string[]) =>
      counts.filter((c) => states.includes(c.state)).reduce((sum, c) => sum + c.count, 0);
    const entry: z.infer<typeof workflowSchema> = {
      workflow,
      done: n(["succeeded", "skipped"]),
      remaining: n(LIVE_STATES),
      failed: n(FAILED_STATES),
      tasks: [],
      more: jobs.length,
    };
    if (workflow !== NO_WORKFLOW) {
      const [last] = await engine.list({ ...filter, states: ["succeeded"] }, { limit: 1 });
      if (last !== undefined) {
        entry.lastDone = `${last.id} ${briefJson(last.payload, 60)} evidence=${briefJson(last.evidence, 100)}`;
      }
    }
    out.workflows.push(entry);
    if (tokens(out) > options.budget) {
      delete entry.lastDone;
      if (tokens(out) > options.budget && out.workflows.length > 1) {
        out.workflows.pop();
        break;
      }
    }
    if (entry.failed > 0) {
      const failed = await engine.list({ ...filter, states: FAILED_STATES }, { limit: 3 });
      entry.failedTasks = [];
      for (const job of failed) {
        entry.failedTasks.push(line(job));
        if (tokens(out) > options.budget) {
          entry.failedTasks.pop();
          break;
        }
      }
      if (entry.failedTasks.length === 0) delete entry.failedTasks;
    }
    for (const job of jobs) {
      entry.tasks.push(line(job));
      if (tokens(out) > options.budget) {
        entry.tasks.pop();
        break;
      }
      entry.more--;
    }
  }
  // The budget is a promise: trim from the end (older finished lines, then the last workflow's
  // details, tasks and the workflow itself) until the whole answer, hint included, fits.
  let named = 5; // how many left-out workflows notShown names; cut to fit small budgets
  const finalize = (): void => {
    const left = ordered.length - out.workflows.length;
    if (left > 0)
      out.notShown = {
        workflows: left,
        first: ordered
          .slice(out.workflows.length, out.workflows.length + named)
          .map(([workflow, jobs]) => ({ workflow, remaining: jobs.length })),
      };
    else delete out.notShown;
    // (The label "(none)" passed back as workflow is the tasks in no workflow: see buildResume.)
    out.hint =
      left > 0
        ? `${baseHint} ${left} more workflow(s) not shown: pass workflow or a larger budget.`
        : baseHint;
  };
  finalize();
  while (tokens(out) > options.budget) {
    const last = out.workflows.at(-1);
    if (out.finishedSince !== undefined && out.finishedSince.length > 0) {
      out.finishedSince.pop();
      if (out.finishedSince.length === 0) delete out.finishedSince;
    } else if (last === undefined) {
      break;
    } else if (last.lastDone !== undefined) {
      delete last.lastDone;
    } else if (last.tasks.length > 1) {
      last.tasks.pop();
      last.more++;
    } else if (last.failedTasks !== undefined) {
      // Failed tasks go after all but the first task line: what went wrong is worth more to a new
      // chat than the tenth queued task.
      last.failedTasks.pop();
      if (last.failedTasks.length === 0) delete last.failedTasks;
    } else if (last.tasks.length > 0) {
      last.tasks.pop();
      last.more++;
    } else if (out.workflows.length > 1) {
      out.workflows.pop();
    } else if (out.notShown !== undefined && out.notShown.first.length > 0) {
      // Last resort: the left-out workflows keep their count but lose their names.
      named = out.notShown.first.length - 1;
    } else {
      break;
    }
    finalize();
  }
  return out;
}
