import { z } from "zod";
import { batonHome } from "../core/paths.js";
import { findProject } from "../core/project.js";
import type { Job } from "../core/job.js";
import { nameSchema } from "../core/job.js";
import type { OpContext } from "./operation.js";

/** Where the caller stands: explicit, because an MCP server's own cwd says nothing about the agent's. */
export const scopeFields = {
  cwd: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe("The caller's working directory (its git root is the project)."),
  project: z.string().min(1).max(4096).optional().describe("The project path; overrides cwd."),
};

export const idRef = z
  .string()
  .min(1)
  .max(200)
  .describe("Job id, short id (its last 6 chars), id prefix or job name.");

/**
 * The BATON_HOME whose daemon runs the caller's process jobs: its command host's, else its
 * environment's. Their environment files go there, and their affinity names it.
 */
export function commandHome(ctx: OpContext): string {
  return ctx.commands?.home ?? batonHome(ctx.env ?? process.env);
}

/** One id or many: `id` or `ids`. */
export const idsFields = {
  id: idRef.optional(),
  ids: z.array(idRef).min(1).max(10_000).optional(),
};

export function idsOf(input: { id?: string | undefined; ids?: string[] | undefined }): string[] {
  const ids = [...(input.id === undefined ? [] : [input.id]), ...(input.ids ?? [])];
  return ids;
}

/**
 * One rule for one id or many (D76): a request naming a single job with `id` (and nothing else)
 * fails with that job's error; a request with `ids` (or `items`) answers per item, with one
 * element as with two, so an already-done job is an entry in `errors` either way.
 */
export function singleId(input: {
  id?: string | undefined;
  ids?: unknown[] | undefined;
  items?: unknown[] | undefined;
}): boolean {
  return input.id !== undefined && input.ids === undefined && input.items === undefined;
}

export function projectOf(
  input: { cwd?: string | undefined; project?: string | undefined },
  ctx: OpContext,
): string {
  return input.project ?? findProject(input.cwd ?? ctx.cwd);
}

/**
 * The one job a reference names, for every front-end alike (D59): full id, short id, unique id
 * prefix, or a name, looked up in the caller's project first (`scope`, else the caller's cwd).
 */
export function resolveJob(
  ctx: OpContext,
  ref: string,
  scope: { cwd?: string | undefined; project?: string | undefined } = {},
): Promise<Job> {
  return ctx.engine.resolve(ref, projectOf(scope, ctx));
}

/** Resolve references to jobs in order. */
export async function resolveAll(
  ctx: OpContext,
  refs: readonly string[],
  scope: { cwd?: string | undefined; project?: string | undefined } = {},
): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const ref of refs) jobs.push(await resolveJob(ctx, ref, scope));
  return jobs;
}

export const workflowField = nameSchema("workflow", 500);

export const countsSchema = z.record(z.string(), z.number());

/** Per-item outcome of a batch operation. */
export const itemErrorSchema = z.object({ id: z.string(), code: z.string(), message: z.string() });
