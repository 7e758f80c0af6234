/**
 * The in-process worker: claims jobs of the types it has handlers for (the rest stay for other
 * executors and agents), runs each handler under a lease it keeps alive, and records the outcome
 * with the attempt's fencing token, so a worker that lost its lease can never finish a job another
 * worker owns.
 *
 * Wake-ups: an enqueue in this process wakes the worker at once; an enqueue in another process
 * wakes it through a watch on the SQLite write-ahead log (any commit touches it), or on PostgreSQL
 * through the store's LISTEN/NOTIFY, with a slow poll (`pollMs`) as the safety net and for jobs
 * that become due later.
 */
import { EventEmitter } from "node:events";
import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { hostname } from "node:os";
import { BatonError, passesByItself } from "../core/errors.js";
import { newToken } from "../core/ids.js";
import type { Timer } from "../core/timer.js";
import { after, checkDuration, MAX_DURATION_MS, sleep } from "../core/timer.js";
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
  /**
   * Claim ahead (D104): at most this many jobs claimed beyond the free slots, in the same
   * transaction, and held in the worker under their leases until a slot takes them (default 100;
   * 0 turns it off). The worker holds only as many as its measured handler time says it will start
   * within half of `localQueueTtlMs`, so a worker of long jobs holds none.
   */
  localQueue?: number;
  /**
   * A held job not started within this long is given back (released, attempt not spent), ms.
   * Default a quarter of the lease, at most 5 s; kept below the lease less two heartbeat periods,
   * so a held job's lease is always live when its handler starts.
   */
  localQueueTtlMs?: number;
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
  /** Made on first use (the handler reads `signal`, or the job is aborted): most jobs need none. */
  controller: AbortController | undefined;
  /** The handler returned (or threw): its slot is free, though its outcome may still be committing. */
  handlerDone: boolean;
  /** Set once an outcome is recorded or the job is gone: nothing else may record one. */
  settled: boolean;
  /** `performance.now()` when the handler started (the mean handler time sizes the local queue). */
  startedAt: number;
  /** `performance.now()` when its next heartbeat is due (the worker's one heartbeat timer). */
  beatAt: number;
  /** Sends one heartbeat (the handler's `context.heartbeat` too); made on first use. */
  beat: (() => Promise<void>) | undefined;
  done: Promise<void>;
}

/** The job's abort controller, made on first use. */
function controllerOf(r: Running): AbortController {
  return (r.controller ??= new AbortController());
}

/** A job claimed ahead and held, leased, until a slot takes it (D104). */
interface Held {
  claimed: ClaimedJob;
  /** When it was claimed (`Date.now()`): released once older than the local queue's ttl. */
  at: number;
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
  /** Stops the PostgreSQL store's LISTEN wake-ups for this worker. */
  private unwake: (() => void) | undefined;
  private watcher: FSWatcher | undefined;
  /** Jobs claimed ahead, in claim order (D104). */
  private held: Held[] = [];
  private readonly localQueue: number;
  private readonly localQueueTtlMs: number;
  /** Mean handler time (ms, moving average), once one has run: how many held jobs a ttl covers. */
  private meanRunMs: number | undefined;
  /** The last claim got fewer jobs than it asked for: no claiming ahead until a slot is free. */
  private drained = false;
  /**
   * Held jobs outlived the ttl and were given back: the slots are slower than the mean said, so
   * no claiming ahead until a handler returns (else a long run would claim and give back the same
   * jobs every ttl, churning the ledger and their events).
   */
  private heldExpired = false;
  /** A claim ahead in flight (one at a time), awaited by `stop()`. */
  private topUp: Promise<void> | undefined;
  private heldTimer: Timer | undefined;
  /**
   * One timer for the heartbeats of every running job, armed for the earliest one due (a timer per
   * job was an interval, its closure and a timer-list entry for every job run: issue 22).
   */
  private beatTimer: Timer | undefined;
  /** Jobs asked for by claims not yet answered (so two claims do not both fill the same room). */
  private claiming = 0;
  /** Releases of held jobs in flight, awaited by `stop()`. */
  private readonly givingBack = new Set<Promise<void>>();
  /** No handler sets its own concurrency: held jobs can start in any free slot. */
  private readonly aheadAllowed: boolean;

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
    const size = options.localQueue ?? 100;
    if (!(Number.isInteger(size) && size >= 0 && size <= 10_000))
      throw new BatonError("INVALID_INPUT", `localQueue must be an integer from 0 to 10000, got ${size}`);
    const ttl = checkDuration(
      options.localQueueTtlMs ?? Math.min(5000, Math.floor(this.leaseMs / 4)),
      "localQueueTtlMs",
    );
    // A held job's lease must still be live when its handler starts, and until its first heartbeat.
    this.localQueueTtlMs = Math.min(ttl, this.leaseMs - 2 * this.heartbeatMs);
    this.localQueue = this.localQueueTtlMs > 0 ? size : 0;
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
    this.aheadAllowed = options.handlers.every(
      (h) => h.options.concurrency === undefined || h.options.rateLimit !== undefined,
    );
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

  /** Jobs claimed ahead and held, leased, waiting for a slot (D104). */
  get heldCount(): number {
    return this.held.length;
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
      if (jobs.length === 0 || jobs.some((j) => this.handlers.has(j.type))) {
        // New work in this process: worth claiming ahead again even if the last claim came up short.
        this.drained = false;
        this.wake();
      }
    });
    const notifying = this.engine.store as { onWake?: (listener: () => void) => () => void };
    if (this.engine.store.kind === "postgres" && typeof notifying.onWake === "function") {
      // LISTEN/NOTIFY: another process's enqueue (or anything that makes a job claimable).
      this.unwake = notifying.onWake(() => {
        this.drained = false;
        this.wakeSoon();
      });
    }
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
   * How many jobs to hold ahead (D104): as many as the slots start within half the local queue's
   * ttl at the mean handler time measured so far, at most `localQueue`. None before a handler has
   * run, none for a worker whose handlers have their own concurrency (held jobs would wait on it).
   */
  private aheadTarget(): number {
    if (this.localQueue === 0 || this.meanRunMs === undefined || !this.aheadAllowed || this.heldExpired)
      return 0;
    const perSlot = this.localQueueTtlMs / 2 / Math.max(this.meanRunMs, 0.01);
    return Math.min(this.localQueue, Math.floor(perSlot * this.concurrency));
  }

  /**
   * One claim for every free slot of the types without a rate limit, plus the jobs to hold ahead,
   * computed when the group commit cuts its batch: slots freed by handlers that returned meanwhile
   * are claimed in the same transaction that records their outcomes.
   */
  private plainClaim(): ClaimOptions | undefined {
    if (this.state !== "started") return undefined;
    const open = this.openTypes().filter((h) => !this.limiters.has(h.type));
    const free = this.concurrency - this.busy();
    // A per-type limit below the free slots means claiming one at a time.
    const room =
      open.length === 0
        ? 0
        : Math.min(
            free,
            ...open.map((h) => (h.options.concurrency ?? this.concurrency) - this.countOf(h.type)),
          );
    const ahead = this.aheadTarget();
    const inHand = this.held.length + this.claiming;
    const limit = Math.max(0, room - inHand) + Math.max(0, ahead - Math.max(0, inHand - free));
    if (limit < 1) return undefined;
    // Claiming ahead (no handler has its own concurrency): every type without a rate limit, busy or not.
    const types = (
      ahead > 0 ? [...this.handlers.values()].filter((h) => !this.limiters.has(h.type)) : open
    ).map((h) => h.type);
    if (types.length === 0) return undefined;
    return { types, owner: this.owner, leaseMs: this.leaseMs, limit };
  }

  /** Claim through the group commit; what comes back is held, and launched into free slots. */
  private async claimPlain(): Promise<number> {
    let asked = 0;
    try {
      const claimed = await this.writes.claim(() => {
        const o = this.plainClaim();
        asked = o?.limit ?? 0;
        this.claiming += asked;
        return o;
      });
      this.drained = claimed.length < asked;
      const at = this.engine.clock.now();
      for (const c of claimed) this.held.push({ claimed: c, at });
      if (this.held.length > 0) this.armHeldTimer();
      return claimed.length;
    } finally {
      this.claiming -= asked;
    }
  }

  /** While every slot is busy, claim ahead once the held jobs run below half the target. */
  private claimAhead(): void {
    if (this.topUp !== undefined || this.drained || this.state !== "started") return;
    const target = this.aheadTarget();
    if (target === 0 || this.held.length > target / 2) return;
    this.topUp = this.claimPlain()
      .then(
        (n) => {
          if (n > 0) this.wake();
        },
        (error: unknown) => this.reportError(error),
      )
      .finally(() => {
        this.topUp = undefined;
      });
  }

  /** Start held jobs in free slots, oldest claim first; one held past the ttl is given back instead. */
  private launchHeld(): number {
    let n = 0;
    const now = this.engine.clock.now();
    while (this.held.length > 0 && this.state === "started" && this.busy() < this.concurrency) {
      const h = this.held.shift()!;
      if (now - h.at > this.localQueueTtlMs) {
        this.heldExpired = true;
        this.giveBack([h]);
      } else {
        this.launch(h.claimed);
        n++;
      }
    }
    return n;
  }

  /** Release held jobs (their attempt not spent); one transaction through the group commit. */
  private giveBack(held: readonly Held[]): void {
    for (const h of held) {
      const work = this.writes
        .finish(h.claimed.job.id, "released", { token: h.claimed.token, actor: this.owner })
        .then(
          (job) => this.emit("released", job),
          (error: unknown) => {
            if (!isLost(error)) this.reportError(error);
          },
        );
      this.givingBack.add(work);
      void work.finally(() => this.givingBack.delete(work));
    }
  }

  /** Give back held jobs older than the ttl when it passes (a slot may stay busy longer). */
  private armHeldTimer(): void {
    if (this.heldTimer !== undefined || this.held.length === 0 || this.state !== "started") return;
    const oldest = Math.min(...this.held.map((h) => h.at));
    const wait = Math.max(1, oldest + this.localQueueTtlMs + 1 - this.engine.clock.now());
    this.heldTimer = after(wait, () => {
      this.heldTimer = undefined;
      const now = this.engine.clock.now();
      const stale = this.held.filter((h) => now - h.at > this.localQueueTtlMs);
      if (stale.length > 0) {
        this.held = this.held.filter((h) => now - h.at <= this.localQueueTtlMs);
        this.heldExpired = true;
        this.giveBack(stale);
      }
      this.armHeldTimer();
    });
  }

  private async fill(): Promise<void> {
    while (this.state === "started") {
      let started = this.launchHeld();
      if (this.busy() >= this.concurrency) {
        this.claimAhead();
        return;
      }
      if (this.topUp !== undefined) {
        // A claim is on its way: take its jobs rather than asking twice.
        await this.topUp;
        continue;
      }
      const open = this.openTypes();
      if (open.some((h) => !this.limiters.has(h.type))) {
        started += await this.claimPlain();
        started += this.launchHeld();
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
    const startedAt = performance.now();
    const r: Running = {
      claimed,
      handler,
      controller: undefined,
      handlerDone: false,
      settled: false,
      startedAt,
      beatAt: startedAt + this.heartbeatMs,
      beat: undefined,
      done: Promise.resolve(),
    };
    this.running.set(claimed.job.id, r);
    // Every job has the same period and starts later than those already running, so a timer
    // armed for one of them is due first.
    if (this.beatTimer === undefined) this.armBeat(r.beatAt);
    r.done = this.execute(r);
  }

  private armBeat(at: number): void {
    this.beatTimer = after(Math.max(0, at - performance.now()), () => this.beatDue());
  }

  /** Heartbeat the running jobs that are due, and arm the timer for the next one due. */
  private beatDue(): void {
    this.beatTimer = undefined;
    const now = performance.now();
    let next = Infinity;
    // Jobs due within a tenth of a period beat now, in the same group commit (a heartbeat a little
    // early only extends the lease from an earlier moment); this also covers a timer that fires a
    // little early by this clock.
    const soon = now + Math.max(1, this.heartbeatMs / 10);
    for (const r of this.running.values()) {
      if (r.beatAt <= soon) {
        r.beatAt = now + this.heartbeatMs;
        this.beatOf(r)().catch((error: unknown) => this.reportError(error));
      }
      next = Math.min(next, r.beatAt);
    }
    if (next !== Infinity && this.state !== "stopped") this.armBeat(next);
  }

  /** The job's heartbeat: extends its lease; a lost lease aborts the handler (`lost`). */
  private beatOf(r: Running): () => Promise<void> {
    return (r.beat ??= async () => {
      if (r.settled) return;
      const { job, token } = r.claimed;
      try {
        await this.writes.heartbeat(job.id, token, this.leaseMs);
      } catch (error) {
        if (!isLost(error) || r.settled) throw error;
        r.settled = true;
        const reason = (error as Error).message;
        controllerOf(r).abort(new Error(`lease lost: ${reason}`));
        this.emit("lost", job.id, reason);
      }
    });
  }

  private async execute(r: Running): Promise<void> {
    const { job, token, attempt } = r.claimed;
    let timeout: Timer | undefined;
    const timeoutMs = job.timeoutMs ?? r.handler.options.timeoutMs;
    if (timeoutMs !== undefined) {
      // A row written before durations were bounded may name more than 10 years.
      if (timeoutMs <= MAX_DURATION_MS) timeout = after(timeoutMs, () => void this.timeOut(r, timeoutMs));
    }
    this.emit("active", job, attempt);
    const context = this.contextOf(r);
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
      timeout?.cancel();
      this.running.delete(job.id);
      this.wake();
    }
  }

  /**
   * What a handler is given. Its signal and heartbeat are made when first read (getters of its
   * own, so spreading the context still copies them): a handler that reads neither costs no
   * AbortController (issue 22). The same value on every read.
   */
  private contextOf(r: Running): HandlerContext {
    const beat = (): (() => Promise<void>) => this.beatOf(r);
    return {
      get signal() {
        return controllerOf(r).signal;
      },
      get heartbeat() {
        return beat();
      },
      log: (text) => this.engine.note(r.claimed.job.id, text, this.owner),
      attempt: r.claimed.attempt,
      job: r.claimed.job,
    };
  }

  /**
   * Record a handler's outcome. While the store answers an error that passes by itself (a full
   * disk, a lock held too long, a lost connection) try again, backing off to 2 s: the lease of the
   * last heartbeat covers the retries (heartbeats end with the handler, and would meet the same
   * store error), so the outcome is kept and the handler does not run twice within it. Each
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
    const ms = performance.now() - r.startedAt;
    this.meanRunMs = this.meanRunMs === undefined ? ms : this.meanRunMs * 0.9 + ms * 0.1;
    this.heldExpired = false;
    this.wake();
  }

  /** Record a timeout at once (a handler that ignores its signal still holds its slot until it returns). */
  private async timeOut(r: Running, timeoutMs: number): Promise<void> {
    if (r.settled) return;
    r.settled = true;
    const error = new Error(`timed out after ${timeoutMs} ms`);
    controllerOf(r).abort(error);
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
    this.unwake?.();
    this.watcher?.close();
    this.pollTimer?.cancel();
    await this.cron.stop();
    await this.filling;
    await this.topUp;
    // Held jobs never started: give them back at once (one transaction), attempts not spent.
    this.heldTimer?.cancel();
    this.giveBack(this.held.splice(0));
    await Promise.all([...this.givingBack]);
    const grace = options.graceMs ?? this.shutdownGraceMs;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    // The waits are cancelled once won or lost, so no timer outlives stop() (a 10 s grace timer
    // kept a script that stopped its worker alive for 10 s).
    await raceTimeout(all(), grace);
    for (const r of [...this.running.values()]) {
      if (r.settled) continue;
      r.settled = true;
      controllerOf(r).abort(new Error("shutdown: the worker is stopping"));
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
    this.beatTimer?.cancel();
    this.beatTimer = undefined;
    this.stopped.abort();
  }
}
