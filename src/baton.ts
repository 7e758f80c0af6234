import type { z } from "zod";
import { BatonError } from "./core/errors.js";
import type { ClaimedJob, Job } from "./core/job.js";
import type { ClaimOptions, EnqueueContext, Explanation, FinishOptions } from "./engine/engine.js";
import { Engine } from "./engine/engine.js";
import type { OpContext } from "./ops/operation.js";
import type { resumeSession } from "./ops/checkpoints.js";
import type { OpenOptions } from "./open.js";
import { openEngine } from "./open.js";
import type { EnqueueOutcome, JobFilter, Page, Store } from "./store/types.js";
import type { JobOptions } from "./worker/enqueue.js";
import { handlerJobSpec } from "./worker/enqueue.js";
import type { Handler } from "./worker/handler.js";
import type { WorkerOptions } from "./worker/worker.js";
import { Worker } from "./worker/worker.js";

function isHandler(value: unknown): value is Handler {
  const h = value as Partial<Handler> | null;
  return typeof h === "object" && h !== null && typeof h.type === "string" && typeof h.run === "function";
}

/**
 * A handle on one ledger. Every method is one atomic operation; nothing runs in the background
 * until you start a worker.
 *
 * @example
 * const baton = await openBaton({ home: "./.baton" });
 * const [{ job }] = await baton.enqueue({ type: "edit_file", payload: { path: "a.ts" }, workflow: "docs" });
 * await baton.complete(job.id, { evidence: "added docstrings" });
 * await baton.close();
 */
export class Baton {
  readonly engine: Engine;
  readonly store: Store;
  readonly home: string;

  constructor(engine: Engine, home: string) {
    this.engine = engine;
    this.store = engine.store;
    this.home = home;
  }

  /**
   * Enqueue a job of a handler's type (the payload is checked against the handler's schema, at
   * compile time and again at run time), or raw job specs (one, or an array atomically).
   *
   * @example
   * const { job, deduplicated } = await baton.enqueue(sendEmail, { to: "a@b.c" }, { priority: 5, key: "welcome:a@b.c" });
   */
  enqueue<S extends z.ZodType>(
    handler: Handler<S>,
    payload: z.input<S>,
    options?: JobOptions,
  ): Promise<EnqueueOutcome>;
  enqueue(spec: unknown, context?: EnqueueContext): Promise<EnqueueOutcome[]>;
  async enqueue(
    first: unknown,
    second?: unknown,
    third?: JobOptions,
  ): Promise<EnqueueOutcome | EnqueueOutcome[]> {
    if (isHandler(first)) {
      const [outcome] = await this.engine.enqueue(handlerJobSpec(first, second, third));
      return outcome!;
    }
    return this.engine.enqueue(first, second as EnqueueContext | undefined);
  }

  /** Enqueue many jobs of one handler's type in one transaction (all or nothing). */
  async enqueueMany<S extends z.ZodType>(
    handler: Handler<S>,
    items: readonly { payload: z.input<S>; options?: JobOptions }[],
  ): Promise<EnqueueOutcome[]> {
    return this.engine.enqueue(items.map((i) => handlerJobSpec(handler, i.payload, i.options)));
  }

  /**
   * A worker running these handlers (not started yet: call `start()`).
   *
   * @example
   * const worker = baton.worker({ handlers: [sendEmail], concurrency: 8 });
   * await worker.start();
   */
  worker(options: WorkerOptions): Worker {
    return new Worker(this.engine, options);
  }
  claim(options: ClaimOptions): Promise<ClaimedJob[]> {
    return this.engine.claim(options);
  }
  heartbeat(jobId: string, token: string, leaseMs?: number): Promise<{ leaseExpiresAt: number }> {
    return this.engine.heartbeat(jobId, token, leaseMs);
  }
  complete(jobId: string, options?: FinishOptions): Promise<Job> {
    return this.engine.complete(jobId, options);
  }
  fail(jobId: string, options?: FinishOptions): Promise<Job> {
    return this.engine.fail(jobId, options);
  }
  cancel(jobId: string, options?: FinishOptions): Promise<Job> {
    return this.engine.cancel(jobId, options);
  }
  get(jobId: string): Promise<Job> {
    return this.engine.get(jobId);
  }
  list(filter: JobFilter = {}, page: Page = { limit: 50 }): Promise<Job[]> {
    return this.engine.list(filter, page);
  }
  explain(jobId: string): Promise<Explanation> {
    return this.engine.explain(jobId);
  }
  /** What is left to do in a project (see the `resume_session` operation). */
  resume(input: z.input<typeof resumeSession.input> = {}): Promise<z.output<typeof resumeSession.output>> {
    return this.call("resume_session", input) as Promise<z.output<typeof resumeSession.output>>;
  }

  /** Run any operation of the catalogue by name, with the same validation as every front-end. */
  async call(
    name: string,
    input: unknown,
    context: Partial<Pick<OpContext, "cwd" | "actor">> = {},
  ): Promise<unknown> {
    // Loaded on first use: the catalogue pulls in tasks, agents and commands (YAML, the
    // supervisor), and invoke its input schemas and project lookup, which a process that only
    // runs workers never needs (D25, D154).
    const [{ getOperation }, { invoke }] = await Promise.all([
      import("./ops/catalogue.js"),
      import("./ops/invoke.js"),
    ]);
    const op = getOperation(name);
    if (op === undefined) throw new BatonError("NOT_FOUND", `no operation named '${name}'`);
    return invoke(op, input, {
      engine: this.engine,
      cwd: context.cwd ?? process.cwd(),
      actor: context.actor ?? this.engine.actor,
      location: this.store.location,
    });
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** Open (and migrate) a ledger. Importing baton opens nothing; this does. */
export async function openBaton(options: OpenOptions = {}): Promise<Baton> {
  const { engine, home } = await openEngine(options);
  return new Baton(engine, home);
}
