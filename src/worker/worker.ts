/**
 * The in-process worker: claims jobs of the types it has handlers for (the rest stay for other
 * executors and agents), runs each handler under a lease it keeps alive, and records the outcome
 * with the attempt's fencing token, so a worker that lost its lease can never finish a job another
 * worker owns.
 *
 * Wake-ups: an enqueue in this process wakes the worker at once; an enqueue in another process
 * wakes it through a watch on the SQLite write-ahead log (any commit touches it), with a slow poll
 * (`pollMs`) as the safety net and for jobs that become due later.
 */
import { EventEmitter } from "node:events";
import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { hostname } from "node:os";
import { BatonError, passesByItself } from "../core/errors.js";
import { newToken } from "../core/ids.js";
import type { Timer } from "../core/timer.js";
import { after, checkDuration, every, MAX_DURATION_MS, sleep } from "../core/timer.js";
import type { ClaimedJob, Job } from "../core/job.js";
import type { ClaimOptions, Engine } from "../engine/engine.js";
import { GroupCommit } from "../engine/group-commit.js";
import type { CronSchedule } from "./cron.js";
import { CronScheduler } from "./cron.js";
import type { AnyHandler, HandlerContext } from "./handler.js";
import { UnrecoverableError } from "./handler.js";
import { LedgerRateLimiter } from "./rate-limit.js";

export interface WorkerOptions {
  handlers: readonly AnyHandler[];
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /** Recorded as the lease owner and event actor (default `worker:<host>:<pid>:<random>`). */
  owner?: string;
  /** Lease per claim, ms (default: the engine's, 30 s). A crashed worker's jobs return after it. */
  leaseMs?: number;
  /** Heartbeat period, ms (default a third of the lease). */
  heartbeatMs?: number;
  /** Look at the queue at least this often, ms (default 1000). */
  pollMs?: number;
  /** Recurring jobs this worker's process fires (any number of processes may declare the same). */
  schedules?: readonly CronSchedule[];
  /** `stop()` waits this long for running handlers before giving their jobs back (default 10 s). */
  shutdownGraceMs?: number;
}

/** What a worker tells its listeners. */
export interface WorkerEvents {
  /** A handler started. */
  active: [job: Job, attempt: number];
  /** A handler returned; the job succeeded. */
  completed: [job: Job, result: unknown];
  /** A handler threw or timed out; `job.state` says whether it will be retried. */
  failed: [job: Job, error: Error];
  /** The job was taken away (lease lost, cancelled): its outcome is not this worker's to record. */
  lost: [jobId: string, reason: string];
  /** Given back to the queue at shutdown (the attempt is not spent). */
  released: [job: Job];
  /** A problem of the worker itself (the ledger unreachable…); it keeps going. */
  error: [error: Error];
}

interface Running {
  claimed: ClaimedJob;
  handler: AnyHandler;
  controller: AbortController;
  /** The handler returned (or threw): its slot is free, though its outcome may still be committing. */
  handlerDone: boolean;
  /** Set once an outcome is recorded or the job is gone: nothing else may record one. */
  settled: boolean;
  done: Promise<void>;
}

/** Wait for `work` at most `ms`, leaving no timer behind either way. */
async function raceTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([work, sleep(ms, { signal: done.signal })]);
  } finally {
    done.abort();
  }
}

/** Errors that say the job is no longer ours. */
function isLost(error: unknown): boolean {
  return (
    error instanceof BatonError &&
    (error.code === "LEASE_LOST" || error.code === "JOB_NOT_FOUND" || error.code === "INVALID_TRANSITION")
  );
}

/**
 * A pool of handlers over one ledger.
 *
 * @example
 * const worker = baton.worker({ handlers: [sendEmail], concurrency: 8 });
 * worker.on("failed", (job, error) => console.error(job.id, error.message));
 * await worker.start();
 * // …
 * await worker.stop(); // finishes or gives back in-flight jobs
 */
export class Worker {
  readonly owner: string;
  private readonly engine: Engine;
  /** Claims, heartbeats and outcomes go through one group commit (one fsync per batch). */
  private readonly writes: GroupCommit;
  private readonly handlers = new Map<string, AnyHandler>();
  private readonly limiters = new Map<string, LedgerRateLimiter>();
  private readonly blockedUntil = new Map<string, number>();
  private readonly running = new Map<string, Running>();
  private readonly emitter = new EventEmitter();
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly shutdownGraceMs: number;
  private readonly cron: CronScheduler;
  private state: "new" | "started" | "stopping" | "stopped" = "new";
  private filling: Promise<void> | undefined;
  private again = false;
  private wakePending = false;
  private pollTimer: Timer | undefined;
  /** Aborted once `stop()` has given everything back: ends every wait the worker still has. */
  private readonly stopped = new AbortController();
  private unsubscribe: (() => void) | undefined;
  private watcher: FSWatcher | undefined;

  constructor(engine: Engine, options: WorkerOptions) {
    this.engine = engine;
    this.writes = new GroupCommit(engine);
    this.owner = options.owner ?? `worker:${hostname()}:${process.pid}:${newToken().slice(0, 8)}`;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.leaseMs = checkDuration(options.leaseMs ?? engine.defaultLeaseMs, "leaseMs");
    this.heartbeatMs = checkDuration(
      options.heartbeatMs ?? Math.max(10, Math.floor(this.leaseMs / 3)),
      "heartbeatMs",
    );
    this.pollMs = checkDuration(options.pollMs ?? 1000, "pollMs");
    this.shutdownGraceMs = checkDuration(options.shutdownGraceMs ?? 10_000, "shutdownGraceMs");
    if (options.handlers.length === 0)
      throw new BatonError("INVALID_INPUT", "a worker needs at least one handler");
    for (const h of options.handlers) {
      if (this.handlers.has(h.type))
        throw new BatonError("INVALID_INPUT", `two handlers for type '${h.type}'`);
      if (h.options.timeoutMs !== undefined) checkDuration(h.options.timeoutMs, `timeoutMs of '${h.type}'`);
      this.handlers.set(h.type, h);
      const limit = h.options.rateLimit;
      if (limit !== undefined) {
        if (!(limit.max >= 1 && limit.intervalMs >= 1))
          throw new BatonError("INVALID_INPUT", `rate limit of '${h.type}' needs max ≥ 1 and intervalMs ≥ 1`);
        this.limiters.set(h.type, new LedgerRateLimiter(engine.store, h.type, limit, this.owner));
      }
    }
    this.emitter.setMaxListeners(0);
    this.cron = new CronScheduler(engine, options.schedules ?? [], (e) => this.reportError(e));
  }

  /** Subscribe to an event; returns the unsubscribe function. */
  on<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): () => void {
    const l = listener as (...args: unknown[]) => void;
    this.emitter.on(event, l);
    return () => this.emitter.off(event, l);
  }

  private emit<E extends keyof WorkerEvents>(event: E, ...args: WorkerEvents[E]): void {
    try {
      this.emitter.emit(event, ...args);
    } catch (error) {
      if (event !== "error") this.reportError(error);
    }
  }

  private reportError(error: unknown): void {
    if (this.emitter.listenerCount("error") > 0)
      this.emit("error", error instanceof Error ? error : new Error(String(error)));
  }

  private hasStopped(): boolean {
    return this.state === "stopped";
  }

  /** Jobs whose handlers are running now. */
  get activeCount(): number {
    return this.busy();
  }

  /** Slots taken: handlers still running (a returned handler's outcome may still be committing). */
  private busy(): number {
    let n = 0;
    for (const r of this.running.values()) if (!r.handlerDone) n++;
    return n;
  }

  /** Begin claiming (and firing schedules). */
  async start(): Promise<void> {
    if (this.state !== "new") throw new BatonError("INVALID_INPUT", "a worker starts once");
    this.state = "started";
    this.unsubscribe = this.engine.on("enqueued", (jobs) => {
      if (jobs.length === 0 || jobs.some((j) => this.handlers.has(j.type))) this.wake();
    });
    if (this.engine.store.kind === "sqlite") {
      try {
        // Deferred to the next turn: a fill writes to the WAL too, and waking inside the watch
        // callback would keep libuv reading fresh change events, starving everything else.
        this.watcher = watch(`${this.engine.store.location}-wal`, { persistent: false }, () =>
          this.wakeSoon(),
        );
        this.watcher.on("error", () => undefined);
      } catch {
        this.watcher = undefined; // no WAL file to watch (yet): the poll covers it
      }
    }
    await this.cron.start();
    this.wake();
  }

  private wakeSoon(): void {
    if (this.wakePending) return;
    this.wakePending = true;
    setImmediate(() => {
      this.wakePending = false;
      this.wake();
    });
  }

  /** Look at the queue now (coalesces concurrent calls). */
  wake(): void {
    if (this.state !== "started") return;
    if (this.filling !== undefined) {
      this.again = true;
      return;
    }
    this.filling = (async () => {
      do {
        this.again = false;
        try {
          await this.fill();
        } catch (error) {
          this.reportError(error);
        }
      } while (this.again && this.state === "started");
    })().finally(() => {
      this.filling = undefined;
      void this.planPoll();
    });
  }

  private async planPoll(): Promise<void> {
    if (this.state !== "started") return;
    let delay = this.pollMs;
    try {
      const next = await this.engine.store.nextRunAt();
      const now = this.engine.clock.now();
      if (next !== null && next > now) delay = Math.min(delay, next - now);
      for (const until of this.blockedUntil.values()) delay = Math.min(delay, Math.max(1, until - now));
    } catch (error) {
      this.reportError(error);
    }
    this.pollTimer?.cancel();
    if (this.state !== "started") return;
    // Not unref'd: a started worker keeps its process alive until `stop()`.
    this.pollTimer = after(Math.max(1, delay), () => this.wake());
  }

  private countOf(type: string): number {
    let n = 0;
    for (const r of this.running.values()) if (r.handler.type === type && !r.handlerDone) n++;
    return n;
  }

  /** Types with room left (per-type concurrency) and not waiting on their rate limit. */
  private openTypes(): AnyHandler[] {
    const now = Date.now();
    return [...this.handlers.values()].filter(
      (h) =>
        this.countOf(h.type) < (h.options.concurrency ?? this.concurrency) &&
        (this.blockedUntil.get(h.type) ?? 0) <= now,
    );
  }

  /**
   * One claim for every free slot of the types without a rate limit, computed when the group
   * commit cuts its batch: slots freed by handlers that returned meanwhile are claimed in the same
   * transaction that records their outcomes.
   */
  private plainClaim(): ClaimOptions | undefined {
    if (this.state !== "started") return undefined;
    const plain = this.openTypes().filter((h) => !this.limiters.has(h.type));
    if (plain.length === 0) return undefined;
    // A per-type limit below the free slots means claiming one at a time.
    const room = Math.min(
      this.concurrency - this.busy(),
      ...plain.map((h) => (h.options.concurrency ?? this.concurrency) - this.countOf(h.type)),
    );
    if (room < 1) return undefined;
    return { types: plain.map((h) => h.type), owner: this.owner, leaseMs: this.leaseMs, limit: room };
  }

  private async fill(): Promise<void> {
    while (this.state === "started" && this.busy() < this.concurrency) {
      const open = this.openTypes();
      let started = 0;
      if (open.some((h) => !this.limiters.has(h.type))) {
        const claimed = await this.writes.claim(() => this.plainClaim());
        for (const c of claimed) this.launch(c);
        started += claimed.length;
      }
      for (const h of open.filter((x) => this.limiters.has(x.type))) {
        if (this.state !== "started" || this.busy() >= this.concurrency) break;
        const limiter = this.limiters.get(h.type)!;
        const slot = await limiter.take();
        if (!slot.ok) {
          this.blockedUntil.set(h.type, slot.retryAt);
          continue;
        }
        this.blockedUntil.delete(h.type);
        const [claimed] = await this.engine.claim({
          types: [h.type],
          owner: this.owner,
          leaseMs: this.leaseMs,
          limit: 1,
        });
        if (claimed === undefined) {
          await limiter.giveBack(slot.slot);
          continue;
        }
        this.launch(claimed);
        started++;
      }
      if (started === 0) return;
    }
  }

  private launch(claimed: ClaimedJob): void {
    const handler = this.handlers.get(claimed.job.type)!;
    const r: Running = {
      claimed,
      handler,
      controller: new AbortController(),
      handlerDone: false,
      settled: false,
      done: Promise.resolve(),
    };
    this.running.set(claimed.job.id, r);
    r.done = this.execute(r).finally(() => {
      this.running.delete(claimed.job.id);
      this.wake();
    });
  }

  private async execute(r: Running): Promise<void> {
    const { job, token, attempt } = r.claimed;
    const signal = r.controller.signal;
    const timers: Timer[] = [];
    const heartbeat = async (): Promise<void> => {
      if (r.settled) return;
      try {
        await this.writes.heartbeat(job.id, token, this.leaseMs);
      } catch (error) {
        if (!isLost(error) || r.settled) throw error;
        r.settled = true;
        const reason = (error as Error).message;
        r.controller.abort(new Error(`lease lost: ${reason}`));
        this.emit("lost", job.id, reason);
      }
    };
    timers.push(
      every(this.heartbeatMs, () => {
        heartbeat().catch((error: unknown) => this.reportError(error));
      }),
    );
    const timeoutMs = job.timeoutMs ?? r.handler.options.timeoutMs;
    if (timeoutMs !== undefined) {
      // A row written before durations were bounded may name more than 10 years.
      if (timeoutMs <= MAX_DURATION_MS) timers.push(after(timeoutMs, () => void this.timeOut(r, timeoutMs)));
    }
    this.emit("active", job, attempt);
    const context: HandlerContext = {
      signal,
      heartbeat,
      log: (text) => this.engine.note(job.id, text, this.owner),
      attempt,
      job,
    };
    try {
      const parsed = r.handler.schema.safeParse(job.payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new UnrecoverableError(
          `payload does not fit the schema of '${job.type}': ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`.trim(),
        );
      }
      const result = await r.handler.run(parsed.data, context);
      this.freeSlot(r);
      if (r.settled) return;
      r.settled = true;
      const finished = await this.record(r, () =>
        this.writes.finish(job.id, "succeeded", {
          token,
          actor: this.owner,
          ...(result === undefined ? {} : { result }),
        }),
      );
      if (finished !== undefined) this.emit("completed", finished, result);
    } catch (thrown) {
      this.freeSlot(r);
      if (r.settled) return;
      r.settled = true;
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      const finished = await this.record(r, () =>
        this.writes.finish(job.id, "failed", {
          token,
          actor: this.owner,
          error: error.message,
          ...(error instanceof UnrecoverableError ? { noRetry: true } : {}),
        }),
      );
      if (finished !== undefined) this.emit("failed", finished, error);
    } finally {
      for (const t of timers) t.cancel();
    }
  }

  /**
   * Record a handler's outcome. While the store answers an error that passes by itself (a full
   * disk, a lock held too long, a lost connection) try again, backing off to 2 s: the heartbeat
   * keeps the lease meanwhile, so the outcome is kept and the handler does not run twice. Each
   * failed try is reported as an `error` event. Gives up when the lease is lost (`lost`), on any
   * other error, or once the worker has stopped; the job is then recovered when its lease expires.
   */
  private async record(r: Running, write: () => Promise<Job>): Promise<Job | undefined> {
    for (let delay = 50; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await write();
      } catch (error) {
        if (isLost(error)) {
          this.emit("lost", r.claimed.job.id, (error as Error).message);
          return undefined;
        }
        this.reportError(error);
        if (!passesByItself(error) || this.hasStopped()) return undefined;
      }
      await sleep(delay, { signal: this.stopped.signal });
      if (this.hasStopped()) return undefined;
    }
  }

  /** The handler returned: let the next claim (in the same group commit as its outcome) use its slot. */
  private freeSlot(r: Running): void {
    if (r.handlerDone) return;
    r.handlerDone = true;
    this.wake();
  }

  /** Record a timeout at once (a handler that ignores its signal still holds its slot until it returns). */
  private async timeOut(r: Running, timeoutMs: number): Promise<void> {
    if (r.settled) return;
    r.settled = true;
    const error = new Error(`timed out after ${timeoutMs} ms`);
    r.controller.abort(error);
    const finished = await this.record(r, () =>
      this.writes.finish(r.claimed.job.id, "timed_out", {
        token: r.claimed.token,
        actor: this.owner,
        error: error.message,
      }),
    );
    if (finished !== undefined) this.emit("failed", finished, error);
  }

  /**
   * Stop claiming; let running handlers finish for up to `graceMs` (default `shutdownGraceMs`),
   * then abort the rest (`signal.reason`: shutdown) and give their jobs back without spending an
   * attempt. Resolves when every handler has returned or been given back.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.state === "stopped" || this.state === "stopping") return;
    this.state = "stopping";
    this.unsubscribe?.();
    this.watcher?.close();
    this.pollTimer?.cancel();
    await this.cron.stop();
    await this.filling;
    const grace = options.graceMs ?? this.shutdownGraceMs;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    // The waits are cancelled once won or lost, so no timer outlives stop() (a 10 s grace timer
    // kept a script that stopped its worker alive for 10 s).
    await raceTimeout(all(), grace);
    for (const r of [...this.running.values()]) {
      if (r.settled) continue;
      r.settled = true;
      r.controller.abort(new Error("shutdown: the worker is stopping"));
      try {
        const job = await this.engine.release(r.claimed.job.id, r.claimed.token, this.owner);
        this.emit("released", job);
      } catch (error) {
        if (!isLost(error)) this.reportError(error);
      }
    }
    // Handlers that honour their signal return now; give the others a moment, not forever.
    await raceTimeout(all(), Math.min(1000, grace));
    this.state = "stopped";
    this.stopped.abort();
  }
}
