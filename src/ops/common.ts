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
 * Where a job reference's name is looked up, as the CLI's `--project` (D130, D145): a job name is
 * resolved within the project given, and only there. Without it, the caller's cwd's project (for
 * an MCP server, its own cwd's) first, then every project: a name found in two projects elsewhere
 * is AMBIGUOUS_ID. An id (full, short or prefix) names its job wherever it is.
 */
export const refScopeFields = {
  project: z.string().min(1).max(4096).optional().describe("Project path where a name is looked up."),
};

/**
 * The operation's input after validation, its `project` ({@link scopeFields}, {@link refScopeFields})
 * checked and resolved as the CLI's `--project` and a `cwd` are (D145): an existing directory
 * (relative to the call's `cwd`), taken to its project root. `invoke()` applies it for every
 * front-end, so `/p2/`, `/p2/src`, `/p2/.` and `/p2` are one project, stored and compared alike,
 * and `/nonexistent` is INVALID_INPUT naming `project`, never a project of its own.
 */
export function withProjectRoot<T>(schema: unknown, data: T, ctx: OpContext): T {
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  if (shape?.project !== scopeFields.project && shape?.project !== refScopeFields.project) return data;
  const input = data as { cwd?: string | undefined; project?: string | undefined };
  // A cwd the caller names is where it stands: one that is no directory would file its work under
  // a project that does not exist (D145).
  const cwd =
    input.cwd === undefined ? undefined : projectDirectory(input.cwd, ctx.cwd, "cwd", "a directory");
  const at = cwd === undefined ? data : { ...data, cwd };
  if (input.project === undefined) return at;
  const root = findProject(projectDirectory(input.project, cwd ?? ctx.cwd, "project"));
  return { ...at, project: root };
}

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
export function projectDirectory(
  given: string,
  cwd: string,
  label: string,
  what = "a project directory",
): string {
  const path = resolve(cwd, given);
  let directory: boolean;
  try {
    directory = statSync(path).isDirectory();
  } catch {
    throw new InvalidInputError(`${label} '${given}' does not exist: give the path of ${what}`, {
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
 * prefix, or a name: looked up only in the project given (`scope.project`, D145), else in the
 * caller's cwd's project first, then in every project.
 */
export function resolveJob(
  ctx: OpContext,
  ref: string,
  scope: { cwd?: string | undefined; project?: string | undefined } = {},
): Promise<Job> {
  return ctx.engine.resolve(ref, projectOf(scope, ctx), { only: scope.project !== undefined });
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
