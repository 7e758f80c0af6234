import { statSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { InvalidInputError, toBatonError } from "../core/errors.js";
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
    .describe("Your working directory (its git root is the project)."),
  project: z.string().min(1).max(4096).optional().describe("Project path; overrides cwd."),
};

/**
 * A schema refinement from a parser that throws: its message becomes the field's issue, so every
 * front-end names the field its own way (`--since 'x' is not a time` on the command line).
 *
 * @example z.string().superRefine(checked((v) => parseTimeRef(v, 0)))
 */
export function checked(parse: (value: string) => unknown) {
  return (value: string, ctx: z.RefinementCtx): void => {
    try {
      parse(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: toBatonError(error).message });
    }
  };
}

/**
 * Where a job reference's name (or short id) is looked up first, as the CLI's `--project` (D130):
 * a job name is resolved within a project. Without it, the caller's cwd's project (for an MCP server,
 * its own cwd's), then every project: a name found in two projects elsewhere is AMBIGUOUS_ID.
 */
export const refScopeFields = {
  project: z.string().min(1).max(4096).optional().describe("Project path where a name is looked up first."),
};

export const idRef = z
  .string()
  .min(1)
  .max(200)
  .describe("Job id, short id (last 6 chars), id prefix or name.");

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
 * A given project path as an absolute directory (relative to `cwd`), or INVALID_INPUT naming the
 * argument as the caller wrote it (`--project` on the command line, `project` elsewhere) when it
 * is not a directory: it would otherwise read as a project with no jobs or no baton.yaml.
 */
export function projectDirectory(given: string, cwd: string, label: string): string {
  const path = resolve(cwd, given);
  let directory: boolean;
  try {
    directory = statSync(path).isDirectory();
  } catch {
    throw new InvalidInputError(`${label} '${given}' does not exist: give the path of a project directory`, {
      [label.replace(/^-+/, "")]: given,
    });
  }
  if (!directory)
    throw new InvalidInputError(`${label} '${given}' is not a directory`, {
      [label.replace(/^-+/, "")]: given,
    });
  return path;
}

/**
 * The folder whose baton.yaml applies to a call: the named project (it overrides cwd, as
 * {@link scopeFields} says), else the caller's cwd. Every config-reading operation uses it, so a
 * `project` argument is never ignored.
 */
export function configDir(
  input: { cwd?: string | undefined; project?: string | undefined },
  ctx: OpContext,
): string {
  return input.project ?? input.cwd ?? ctx.cwd;
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
