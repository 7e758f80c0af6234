/**
 * Typed enqueue: a handler plus a payload that fits its schema becomes an engine job spec.
 */
import type { z } from "zod";
import { InvalidInputError } from "../core/errors.js";
import type { BackoffPolicy, IdempotencyScope } from "../core/job.js";
import type { Handler } from "./handler.js";

/** Options of a typed enqueue (the handler's defaults apply where these are silent). */
export interface JobOptions {
  priority?: number;
  /** Run no earlier than this (a Date or ms since the epoch). */
  runAt?: Date | number;
  delayMs?: number;
  /** Idempotency key: while a live job has it, enqueuing again returns that job (see `keyScope`). */
  key?: string;
  /**
   * How long `key` binds its job. Default `while-live` for typed enqueues, as queue users expect
   * ("one at a time per key": once the job finished, the key starts a new one); `until-cleaned`
   * also returns the finished job until it is cleaned, as checkpoints and the CLI do (D52).
   */
  keyScope?: IdempotencyScope;
  name?: string;
  workflow?: string;
  tags?: string[];
  maxAttempts?: number;
  backoff?: Partial<BackoffPolicy>;
  timeoutMs?: number;
  dependsOn?: string[];
  resourceKey?: string;
}

/** Check `payload` against the handler's schema and build the engine spec. */
export function handlerJobSpec<S extends z.ZodType>(
  handler: Handler<S>,
  payload: z.input<S>,
  options: JobOptions = {},
): Record<string, unknown> {
  const parsed = handler.schema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue !== undefined && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new InvalidInputError(
      `payload of '${handler.type}' does not fit its schema: ${where}${issue?.message ?? "invalid"}`,
    );
  }
  const d = handler.options;
  const runAt = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
  const pick = <T>(value: T | undefined, fallback: T | undefined): T | undefined => value ?? fallback;
  const spec: Record<string, unknown> = {
    type: handler.type,
    // The payload as given (the handler parses it again when it runs, applying transforms then).
    payload,
    priority: pick(options.priority, d.priority),
    runAt,
    delayMs: options.delayMs,
    idempotencyKey: options.key,
    idempotencyScope: options.key === undefined ? undefined : (options.keyScope ?? "while-live"),
    name: options.name,
    workflow: options.workflow,
    tags: options.tags,
    maxAttempts: pick(options.maxAttempts, d.maxAttempts),
    backoff: pick(options.backoff, d.backoff),
    timeoutMs: pick(options.timeoutMs, d.timeoutMs),
    dependsOn: options.dependsOn,
    resourceKey: options.resourceKey,
  };
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined));
}
