import { z } from "zod";
import type { JobState } from "./states.js";
import { JOB_STATES } from "./states.js";

/** How long to wait before attempt n+1 after attempt n failed. */
export interface BackoffPolicy {
  /** Delay after the first failure, in ms. */
  baseMs: number;
  /** Multiplier per further failure (1 = fixed delay). */
  factor: number;
  /** Upper bound of the delay, in ms. */
  maxMs: number;
  /** Random spread as a fraction of the delay (0.2 = ±20 %), so retries of a batch do not stampede. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.2 };

/**
 * The largest backoff the engine accepts (D132): the first delay at most a day, the longest at most
 * a week, each exponential delay at most 10 times the previous one. One set: the engine's check
 * below and baton.yaml's `retry:` (src/tasks/schema.ts) both read it, so a config that validates
 * never fails at run time on its retry.
 */
export const BACKOFF_LIMITS = { baseMs: 86_400_000, maxMs: 7 * 86_400_000, factor: 10 } as const;

/**
 * The delay before the next try after `attempt` (1-based) failed.
 * `random` is injectable so tests are deterministic.
 */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const raw = Math.min(policy.maxMs, policy.baseMs * Math.pow(policy.factor, exponent));
  const spread = raw * policy.jitter * (random() * 2 - 1);
  // maxMs bounds the delay itself, jitter included.
  return Math.max(0, Math.min(policy.maxMs, Math.round(raw + spread)));
}

/** A job as the engine and every front-end see it. Times are milliseconds since the epoch. */
export interface Job {
  id: string;
  type: string;
  name: string | null;
  payload: unknown;
  state: JobState;
  priority: number;
  runAt: number;
  attempts: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  workflow: string | null;
  project: string | null;
  idempotencyKey: string | null;
  resourceKey: string | null;
  tags: string[];
  dependsOn: string[];
  timeoutMs: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  result: unknown;
  evidence: unknown;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  archivedAt: number | null;
}

/** How an attempt ended. */
export const ATTEMPT_OUTCOMES = [
  "succeeded",
  "failed",
  "timed_out",
  "crashed",
  "cancelled",
  "released",
] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export interface Attempt {
  jobId: string;
  n: number;
  owner: string;
  startedAt: number;
  endedAt: number | null;
  outcome: AttemptOutcome | null;
  exitCode: number | null;
  error: string | null;
}

/** One line of the audit trail. */
export interface JobEvent {
  id: number;
  jobId: string | null;
  workflow: string | null;
  project: string | null;
  at: number;
  actor: string;
  kind: string;
  fromState: JobState | null;
  toState: JobState | null;
  details: Record<string, unknown> | null;
}

/** What a successful claim hands to the claimer: the job and the token it must present. */
export interface ClaimedJob {
  job: Job;
  token: string;
  /**
   * This attempt's number: 1, 2, 3… over the job's whole life (it names the attempt's row and run
   * folder). `job.attempts` is the retry budget spent, which release and redrive give back.
   */
  attempt: number;
  leaseExpiresAt: number;
}

// ---------------------------------------------------------------------------------------------
// Schemas shared by the engine and the operation catalogue.

const controlChars = /[\u0000-\u001f\u007f]/;

/** A short identifier-like name: job types, workflows, tags, keys. No control characters. */
export const nameSchema = (what: string, max = 200) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} is longer than ${max} characters`)
    .refine((s) => !controlChars.test(s), `${what} must not contain control characters`);

export const jobStateSchema = z.enum(JOB_STATES);

export const backoffSchema = z
  .object({
    baseMs: z.number().int().min(0).max(BACKOFF_LIMITS.baseMs).optional(),
    factor: z.number().min(1).max(BACKOFF_LIMITS.factor).optional(),
    maxMs: z.number().int().min(0).max(BACKOFF_LIMITS.maxMs).optional(),
    jitter: z.number().min(0).max(1).optional(),
  })
  .strict();

/**
 * How long an idempotency key binds its job (D52). `until-cleaned`: while the job exists, live or
 * finished, an enqueue with its key returns it (`deduplicated: true`), so an agent that re-runs
 * its enqueue step after a crash does not redo finished work. `while-live`: only while the job is
 * live; once it finished the key starts a new job (a queue's "one at a time per key").
 */
export const IDEMPOTENCY_SCOPES = ["until-cleaned", "while-live"] as const;
export type IdempotencyScope = (typeof IDEMPOTENCY_SCOPES)[number];

/** Everything a caller may say when enqueuing one job. */
export const enqueueSpecSchema = z
  .object({
    type: nameSchema("type"),
    payload: z.unknown().optional(),
    name: nameSchema("name").optional(),
    workflow: nameSchema("workflow", 500).optional(),
    project: z.string().min(1).max(4096).optional(),
    tags: z.array(nameSchema("tag", 100)).max(50).optional(),
    priority: z.number().int().min(-1000).max(1000).optional(),
    runAt: z.number().int().nonnegative().optional(),
    delayMs: z.number().int().nonnegative().optional(),
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    backoff: backoffSchema.optional(),
    idempotencyKey: nameSchema("idempotency key", 500).optional(),
    idempotencyScope: z.enum(IDEMPOTENCY_SCOPES).optional(),
    dependsOn: z.array(z.string().min(1).max(100)).max(1000).optional(),
    resourceKey: nameSchema("resource key", 500).optional(),
    timeoutMs: z.number().int().positive().optional(),
  })
  .strict();

export type EnqueueSpec = z.infer<typeof enqueueSpecSchema>;
