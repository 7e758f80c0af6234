/**
 * list_workflows: every workflow with its progress (done / remaining / failed of its tasks), the
 * most recently active first. The dashboard's Workflows page and `baton workflows` read it; one
 * workflow's tasks in order are list_tasks with `workflow`, and its actions are skip_task,
 * accept_before (resume from a step) and archive.
 */
import { z } from "zod";
import type { JobState } from "../core/states.js";
import { LIVE_STATES } from "../core/states.js";
import { countsSchema, projectOf, scopeFields } from "./common.js";
import { defineOperation } from "./operation.js";

const DONE: readonly JobState[] = ["succeeded", "skipped"];
const FAILED: readonly JobState[] = ["failed", "timed_out", "cancelled"];

const workflowSummarySchema = z.object({
  workflow: z.string(),
  project: z.string().optional(),
  total: z.number(),
  done: z.number().describe("succeeded or skipped"),
  remaining: z.number().describe("waiting, queued, running or retrying"),
  failed: z.number().describe("failed, timed out or cancelled"),
  byState: countsSchema,
  updatedAt: z.string().describe("When one of its tasks last changed."),
});

export const listWorkflows = defineOperation({
  name: "list_workflows",
  title: "List workflows",
  summary:
    "Workflows of this project (or all projects) with their progress: done, remaining and failed tasks, most recently active first.",
  input: z.object({
    ...scopeFields,
    all: z.boolean().optional().describe("Every project, not just the current one."),
    state: z
      .enum(["live", "finished"])
      .optional()
      .describe("live: workflows with tasks left; finished: workflows with none left."),
    archived: z.boolean().optional().describe("Count archived tasks too."),
    limit: z.number().int().min(1).max(1000).optional().describe("Default 100."),
  }),
  output: z.object({ workflows: z.array(workflowSummarySchema), total: z.number() }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const rows = await ctx.engine.workflowCounts({
      ...(input.all === true ? {} : { project: projectOf(input, ctx) }),
      ...(input.archived === true ? { includeArchived: true } : {}),
    });
    const byKey = new Map<
      string,
      { project: string | null; workflow: string; byState: Record<string, number>; updatedAt: number }
    >();
    for (const row of rows) {
      const key = JSON.stringify([row.project, row.workflow]);
      let entry = byKey.get(key);
      if (entry === undefined) {
        entry = { project: row.project, workflow: row.workflow, byState: {}, updatedAt: 0 };
        byKey.set(key, entry);
      }
      entry.byState[row.state] = (entry.byState[row.state] ?? 0) + Number(row.count);
      entry.updatedAt = Math.max(entry.updatedAt, Number(row.updatedAt));
    }
    const sum = (byState: Record<string, number>, states: readonly JobState[]) =>
      states.reduce((n, s) => n + (byState[s] ?? 0), 0);
    let workflows = [...byKey.values()].map((w) => {
      const total = Object.values(w.byState).reduce((a, b) => a + b, 0);
      return {
        workflow: w.workflow,
        ...(w.project === null ? {} : { project: w.project }),
        total,
        done: sum(w.byState, DONE),
        remaining: sum(w.byState, LIVE_STATES),
        failed: sum(w.byState, FAILED),
        byState: w.byState,
        updatedAt: w.updatedAt,
      };
    });
    if (input.state === "live") workflows = workflows.filter((w) => w.remaining > 0);
    if (input.state === "finished") workflows = workflows.filter((w) => w.remaining === 0);
    workflows.sort(
      (a, b) =>
        b.updatedAt - a.updatedAt ||
        a.workflow.localeCompare(b.workflow) ||
        (a.project ?? "").localeCompare(b.project ?? ""),
    );
    const total = workflows.length;
    return {
      workflows: workflows
        .slice(0, input.limit ?? 100)
        .map((w) => ({ ...w, updatedAt: new Date(w.updatedAt).toISOString() })),
      total,
    };
  },
});
