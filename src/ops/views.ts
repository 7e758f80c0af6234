import { z } from "zod";
import type { Attempt, Job, JobEvent } from "../core/job.js";
import { jobStateSchema } from "../core/job.js";
import { shellLine } from "../core/shell.js";

const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());

export const jobViewSchema = z.object({
  id: z.string(),
  type: z.string(),
  name: z.string().optional(),
  state: jobStateSchema,
  workflow: z.string().optional(),
  project: z.string().optional(),
  priority: z.number(),
  attempts: z.number(),
  maxAttempts: z.number(),
  tags: z.array(z.string()).optional(),
  payload: z.unknown(),
  result: z.unknown().optional(),
  evidence: z.unknown().optional(),
  error: z.string().optional(),
  dependsOn: z.array(z.string()).optional(),
  resourceKey: z.string().optional(),
  idempotencyKey: z.string().optional(),
  runAt: z.string(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  leaseOwner: z.string().optional(),
  leaseExpiresAt: z.string().optional(),
  archived: z.boolean().optional(),
});
export type JobView = z.infer<typeof jobViewSchema>;

/** A job as front-ends show it: ISO times, empty fields left out (agents pay for every token). */
export function jobView(job: Job): JobView {
  const view: JobView = {
    id: job.id,
    type: job.type,
    state: job.state,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    payload: job.payload,
    runAt: iso(job.runAt)!,
    createdAt: iso(job.createdAt)!,
  };
  if (job.name !== null) view.name = job.name;
  if (job.workflow !== null) view.workflow = job.workflow;
  if (job.project !== null) view.project = job.project;
  if (job.tags.length > 0) view.tags = job.tags;
  if (job.result !== null) view.result = job.result;
  if (job.evidence !== null) view.evidence = job.evidence;
  if (job.error !== null) view.error = job.error;
  if (job.dependsOn.length > 0) view.dependsOn = job.dependsOn;
  if (job.resourceKey !== null) view.resourceKey = job.resourceKey;
  if (job.idempotencyKey !== null) view.idempotencyKey = job.idempotencyKey;
  if (job.startedAt !== null) view.startedAt = iso(job.startedAt)!;
  if (job.finishedAt !== null) view.finishedAt = iso(job.finishedAt)!;
  if (job.leaseOwner !== null) view.leaseOwner = job.leaseOwner;
  if (job.leaseExpiresAt !== null) view.leaseExpiresAt = iso(job.leaseExpiresAt)!;
  if (job.archivedAt !== null) view.archived = true;
  return view;
}

export const jobSummarySchema = z.object({
  id: z.string(),
  type: z.string(),
  state: jobStateSchema,
  name: z.string().optional(),
  workflow: z.string().optional(),
  attempts: z.number(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  error: z.string().optional(),
  archived: z.boolean().optional(),
  command: z.string().optional().describe("A background command's command line (argv joined, shell-quoted)."),
  exitCode: z.number().optional().describe("The exit code of a process job's latest attempt, once it ended."),
});
export type JobSummary = z.infer<typeof jobSummarySchema>;

/** One line of a list. */
export function jobSummary(job: Job): JobSummary {
  const out: JobSummary = {
    id: job.id,
    type: job.type,
    state: job.state,
    attempts: job.attempts,
    createdAt: iso(job.createdAt)!,
  };
  if (job.name !== null) out.name = job.name;
  if (job.workflow !== null) out.workflow = job.workflow;
  if (job.finishedAt !== null) out.finishedAt = iso(job.finishedAt)!;
  if (job.error !== null) out.error = job.error.length > 200 ? `${job.error.slice(0, 200)}…` : job.error;
  if (job.archivedAt !== null) out.archived = true;
  const command = commandLine(job);
  if (command !== undefined) out.command = command;
  return out;
}

/** sh, bash, dash, zsh or ksh, by name or path. */
const SHELLS = /^(?:.*\/)?(?:sh|bash|dash|zsh|ksh)$/;

/**
 * A background command's argv as one line a person could paste (`sh -c 'make && make test'` shows
 * as its script, `make && make test`), cut at 200 characters; undefined for other jobs.
 */
export function commandLine(job: Job): string | undefined {
  if (job.type !== "command") return undefined;
  const argv = (job.payload as { argv?: unknown } | null)?.argv;
  if (!Array.isArray(argv) || !argv.every((a): a is string => typeof a === "string")) return undefined;
  // `baton run "a && b"` (/bin/sh -c) and `baton run -- sh -c 'a; b'` alike: a POSIX shell's script.
  const script = argv.length === 3 && SHELLS.test(argv[0]!) && argv[1] === "-c";
  const text = script ? argv[2]! : shellLine(argv);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

export const attemptViewSchema = z.object({
  n: z.number(),
  owner: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  outcome: z.string().optional(),
  exitCode: z.number().optional(),
  error: z.string().optional(),
});

export function attemptView(a: Attempt): z.infer<typeof attemptViewSchema> {
  const out: z.infer<typeof attemptViewSchema> = { n: a.n, owner: a.owner, startedAt: iso(a.startedAt)! };
  if (a.endedAt !== null) out.endedAt = iso(a.endedAt)!;
  if (a.outcome !== null) out.outcome = a.outcome;
  if (a.exitCode !== null) out.exitCode = a.exitCode;
  if (a.error !== null) out.error = a.error;
  return out;
}

export const eventViewSchema = z.object({
  id: z.number(),
  at: z.string(),
  kind: z.string(),
  actor: z.string(),
  jobId: z.string().optional(),
  workflow: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export function eventView(e: JobEvent): z.infer<typeof eventViewSchema> {
  const out: z.infer<typeof eventViewSchema> = { id: e.id, at: iso(e.at)!, kind: e.kind, actor: e.actor };
  if (e.jobId !== null) out.jobId = e.jobId;
  if (e.workflow !== null) out.workflow = e.workflow;
  if (e.fromState !== null) out.from = e.fromState;
  if (e.toState !== null) out.to = e.toState;
  if (e.details !== null) out.details = e.details;
  return out;
}

/** A compact one-line rendering of a payload for token-budgeted outputs. */
export function briefJson(value: unknown, max = 160): string {
  const text = JSON.stringify(value) ?? "null";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
