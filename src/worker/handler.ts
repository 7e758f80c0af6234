/**
 * Typed handlers: a job type, the zod schema of its payload and the function that runs it. The
 * handler object is also the typed key for enqueuing (`baton.enqueue(sendEmail, { to })`), so a
 * payload that does not fit the schema is a compile error, and a second check at run time.
 */
import type { z } from "zod";
import type { BackoffPolicy, Job } from "../core/job.js";

/** What a handler gets besides its payload. */
export interface HandlerContext {
  /**
   * Aborted when the job times out, is cancelled, loses its lease (another worker may own it now)
   * or the worker stops and gives the job back. `signal.reason` says which.
   */
  signal: AbortSignal;
  /** Extend the lease now (heartbeats are automatic while the handler runs; this is for long steps). */
  heartbeat(): Promise<void>;
  /** Record a line in the job's audit trail (a `note` event). Never log secrets. */
  log(text: string): Promise<void>;
  /** This attempt's number: 1, 2, 3… */
  attempt: number;
  job: Job;
}

/** Limits and defaults of one job type. */
export interface HandlerOptions {
  /** Jobs of this type running at once in one worker (default: the worker's concurrency). */
  concurrency?: number;
  /**
   * At most `max` jobs of this type start per `intervalMs`, across every process sharing the
   * ledger (a sliding window kept as named locks in the ledger).
   */
  rateLimit?: { max: number; intervalMs: number };
  /** Abort the handler and record a timeout after this long (a job's own `timeoutMs` wins). */
  timeoutMs?: number;
  /** Defaults for jobs enqueued through this handler. */
  maxAttempts?: number;
  backoff?: Partial<BackoffPolicy>;
  priority?: number;
}

/** The function a handler runs. Its return value becomes the job's result. */
export type HandlerFunction<P> = (payload: P, context: HandlerContext) => Promise<unknown>;

/** A job type with its payload schema and handler. Create with {@link defineHandler}. */
export interface Handler<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly schema: S;
  readonly run: HandlerFunction<z.output<S>>;
  readonly options: HandlerOptions;
}

/** Any handler, whatever its schema (for lists of handlers). */
export type AnyHandler = Handler<z.ZodType>;

/**
 * Define a job type: its name, payload schema and handler.
 *
 * @example
 * const sendEmail = defineHandler("send_email", z.object({ to: z.string() }), async (payload, { signal }) => {
 *   await mailer.send(payload.to, { signal });
 *   return { sent: true };
 * }, { rateLimit: { max: 10, intervalMs: 1000 } });
 */
export function defineHandler<S extends z.ZodType>(
  type: string,
  schema: S,
  run: HandlerFunction<z.output<S>>,
  options: HandlerOptions = {},
): Handler<S> {
  return { type, schema, run, options };
}

/**
 * Throw this from a handler when retrying cannot help (bad input, a permanent refusal): the job
 * fails at once without spending its remaining attempts.
 *
 * @example
 * if (user === undefined) throw new UnrecoverableError(`no user ${payload.userId}`);
 */
export class UnrecoverableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UnrecoverableError";
  }
}
