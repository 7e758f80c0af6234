/**
 * The process supervisor: claims `command` jobs within the concurrency limits, starts each in its
 * own process group with the caller's cwd and environment, follows its output, enforces timeouts,
 * records the real exit code, and re-attaches to commands that outlived a previous daemon.
 */
import { COMMAND_TYPE, isReservedPrefix } from "../core/executors.js";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BatonError, passesByItself } from "../core/errors.js";
import type { Job } from "../core/job.js";
import { isTerminal } from "../core/states.js";
import type { Timer, TimerOptions } from "../core/timer.js";
import { after, every, MAX_DURATION_MS, sleep } from "../core/timer.js";
import type { Engine } from "../engine/engine.js";
import type { CommandPayload, ProcessKind } from "./kinds.js";
import { isCommandPayload } from "./kinds.js";
import { LogPump } from "./log-pump.js";
import {
  groupAlive,
  isSameProcess,
  NotStarted,
  ownerGone,
  pidReused,
  signalGroup,
  startDetached,
  wrapperIn,
  wrapperStarting,
} from "./process.js";
import {
  attemptDir,
  deleteEnv,
  ensureAttemptDir,
  loadEnv,
  loadEnding,
  loadLaunch,
  loadProcess,
  readExitCode,
  readWrapperPid,
  saveEnding,
  saveLaunch,
  wrapperStarted,
  attemptDirs,
  markLedger,
  saveProcess,
  sweepJobFiles,
} from "./run-dir.js";
import type { EndingRecord, ProcessRecord } from "./run-dir.js";

/** Why a process could not be started, in words that name what to fix. */
function spawnReason(error: unknown, payload: CommandPayload): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT" && !existsSync(payload.cwd))
    return `the working directory ${payload.cwd} does not exist`;
  if (code === "ENOTDIR") return `the working directory ${payload.cwd} is not a directory`;
  if (code === "E2BIG")
    return "its arguments and environment are too large together for the system (E2BIG); a task's inputs are passed in its environment (BATON_INPUT_*, BATON_INPUTS_JSON): give smaller inputs, e.g. a file's path instead of its contents";
  return (error as Error).message;
}

/**
 * A fault-injection seam, off by default: hold each launch this long after the command's process
 * started and before its process.json is written, so a test can kill the daemon in that window.
 */
const launchDelayMs = Number(process.env.BATON_TEST_LAUNCH_DELAY_MS ?? 0) || 0;

/**
 * A fault-injection seam, off by default: hold each launch this long after its claim and before
 * anything of it is written or started, so a test can stop the job, or kill the daemon, in that window.
 */
const prestartDelayMs = Number(process.env.BATON_TEST_PRESTART_DELAY_MS ?? 0) || 0;

/**
 * A fault-injection seam, off by default: hold the recording of each attempt's end this long after
 * its process ended, so a test can kill the daemon between a stop's signal and its outcome (D148).
 */
const recordDelayMs = Number(process.env.BATON_TEST_RECORD_DELAY_MS ?? 0) || 0;

/** A fault-injection seam, off by default: hold a starting daemon's re-attach this long (D148 follow-up). */
const reattachDelayMs = Number(process.env.BATON_TEST_REATTACH_DELAY_MS ?? 0) || 0;

/** How a forced stop is recorded, so the daemon running the job on another host kills at once too. */
const FORCED_STOP = "stopped by user (SIGKILL)";

/** Was this job's stop forced (`baton stop --force`), wherever it was typed? */
const stopWasForced = (job: Job): boolean =>
  job.state === "cancelled" && job.error?.startsWith(FORCED_STOP) === true;

/**
 * End a process group: SIGTERM (SIGKILL at once when forced), SIGCONT so a paused group acts on
 * it, and SIGKILL after the grace unless the leader's pid names another process by then.
 * Returns the timer of that last SIGKILL.
 */
function endGroup(
  pid: number,
  startTime: string,
  force: boolean,
  graceMs: number,
  options: TimerOptions = {},
): Timer {
  signalGroup(pid, force ? "SIGKILL" : "SIGTERM");
  signalGroup(pid, "SIGCONT");
  return killAfter(pid, startTime, force ? 0 : graceMs, options);
}

/** SIGKILL a process group after `ms`, unless the leader's pid names another process by then. */
function killAfter(pid: number, startTime: string, ms: number, options: TimerOptions = {}): Timer {
  return after(
    Math.max(0, Math.min(ms, MAX_DURATION_MS)),
    () => {
      if (!pidReused(pid, startTime)) signalGroup(pid, "SIGKILL");
    },
    options,
  );
}

export type { CommandPayload, ProcessKind } from "./kinds.js";
export { isCommandPayload } from "./kinds.js";

export interface SupervisorOptions {
  engine: Engine;
  /** Job kinds run besides `command` (configured tasks). */
  kinds?: readonly ProcessKind[];
  home: string;
  owner: string;
  /** Commands running at once, all projects together. */
  maxRunning: number;
  /** Commands running at once in one project. */
  maxPerProject: number;
  /** Lease on a running command; the daemon renews it. Long, so a daemon restart re-attaches first. */
  leaseMs?: number;
  heartbeatMs?: number;
  /** SIGTERM → SIGKILL grace for stops and timeouts. */
  killGraceMs?: number;
  /** Per-attempt log cap in bytes (each of stdout, stderr and the interleaved output). */
  logCapBytes?: number;
  /** Called after the outcome of a job was recorded. */
  onFinished?: (job: Job) => void;
  /** Diagnostics (never secrets). */
  log?: (line: string) => void;
  /** Claim jobs whose payload names an affinity only when it is one of these (this host's, its pools'). */
  affinities?: readonly string[];
}

/** Why the supervisor ends a process: a stop here, a stop recorded elsewhere (the ledger says cancelled), a timeout. */
type Ending = "stop" | "stopped-elsewhere" | "timeout" | "idle";

interface Tracked {
  job: Job;
  attempt: number;
  token: string;
  pid: number;
  startTime: string;
  dir: string;
  project: string | null;
  pump: LogPump;
  child: ChildProcess | undefined;
  ending: Ending | undefined;
  endingDetail: string | undefined;
  timers: Timer[];
  finishing: boolean;
  following: { close(): Promise<void> } | undefined;
  /** The exit code the daemon saw its own child end with (a second source beside the `exit` file). */
  exitedWith: number | undefined;
  timeoutMs: number | undefined;
  idleTimeoutMs: number | undefined;
  killGraceMs: number;
}

export class Supervisor {
  private readonly o: Required<Omit<SupervisorOptions, "onFinished" | "log" | "kinds" | "affinities">> &
    Pick<SupervisorOptions, "onFinished" | "log" | "affinities">;
  private readonly kinds: readonly ProcessKind[];
  private readonly tracked = new Map<string, Tracked>();
  private claiming = true;
  /** Set once {@link shutdown} is done: outcomes still waiting for the store stop trying. */
  private shutDown = false;
  private ticking: Promise<void> | undefined;
  private reattaching: Promise<void> | undefined;
  /** Jobs claimed here whose launch has not ended yet (their process may not exist). */
  private readonly launching = new Map<string, Promise<void>>();
  /** Stops taken for jobs not tracked yet: a launch or a re-attach ends them before they start. */
  private readonly pendingStops = new Map<string, { force: boolean; stopId: string | undefined }>();
  private again = false;
  private heartbeatTimer: Timer | undefined;
  private livenessTimer: Timer | undefined;
  private stoppedTimer: Timer | undefined;

  constructor(options: SupervisorOptions) {
    this.o = {
      leaseMs: 5 * 60_000,
      heartbeatMs: 30_000,
      killGraceMs: 5_000,
      logCapBytes: 50 * 1024 * 1024,
      ...options,
    };
    this.kinds = options.kinds ?? [];
    // The checkpoint operations refuse exactly the reserved types (core/executors.ts): a kind
    // claiming anything else would run processes for jobs an agent may create freely.
    for (const kind of this.kinds) {
      if (!isReservedPrefix(kind.typePrefix))
        throw new Error(
          `supervisor kind '${kind.typePrefix}' is not a reserved type prefix (core/executors.ts)`,
        );
    }
  }

  private kindOf(job: Job): ProcessKind | undefined {
    return this.kinds.find((k) => job.type.startsWith(k.typePrefix));
  }

  get runningCount(): number {
    return this.tracked.size;
  }

  runningIds(): string[] {
    return [...this.tracked.keys()];
  }

  /** Begin heartbeats and liveness checks; re-attach to commands a previous daemon left running. */
  async start(): Promise<void> {
    if (reattachDelayMs > 0) await sleep(reattachDelayMs);
    await this.reattach();
    this.heartbeatTimer = every(this.o.heartbeatMs, () => void this.heartbeatAll(), { unref: true });
    // Processes started by an earlier daemon are not our children: check them twice a second.
    this.livenessTimer = every(500, () => this.checkLiveness(), { unref: true });
    // A stop typed on another host (or home) is recorded in the ledger: notice it within a second.
    this.stoppedTimer = every(1000, () => void this.checkStoppedElsewhere(), { unref: true });
  }

  /** Claim and start queued commands while there is room. Coalesces concurrent calls. */
  tick(): Promise<void> {
    if (this.ticking !== undefined) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      do {
        this.again = false;
        try {
          await this.fill();
        } catch (error) {
          // A full disk, a lost connection: the next tick (a finishing command, a wake, the
          // scheduler) tries again. Never a rejection nobody handles: it would end the daemon.
          this.o.log?.(`could not start queued commands: ${(error as Error).message}`);
          return;
        }
      } while (this.again && this.claiming);
    })().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async fill(): Promise<void> {
    while (this.claiming && this.tracked.size < this.o.maxRunning) {
      const perProject = new Map<string, number>();
      for (const t of this.tracked.values()) {
        if (t.project !== null) perProject.set(t.project, (perProject.get(t.project) ?? 0) + 1);
      }
      const full = [...perProject.entries()].filter(([, n]) => n >= this.o.maxPerProject).map(([p]) => p);
      const running = [...this.tracked.values()].map((t) => t.job);
      const excludeTypes: string[] = [];
      for (const kind of this.kinds) excludeTypes.push(...((await kind.excludeTypes?.(running)) ?? []));
      const [claimed] = await this.o.engine.claim({
        types: [COMMAND_TYPE],
        ...(this.kinds.length === 0 ? {} : { typePrefixes: this.kinds.map((k) => k.typePrefix) }),
        ...(excludeTypes.length === 0 ? {} : { excludeTypes }),
        owner: this.o.owner,
        leaseMs: this.o.leaseMs,
        limit: 1,
        excludeProjects: full,
        ...(this.o.affinities === undefined ? {} : { affinities: this.o.affinities }),
      });
      if (claimed === undefined) return;
      const launched = this.launch(claimed.job, claimed.attempt, claimed.token);
      this.launching.set(claimed.job.id, launched);
      try {
        await launched;
      } finally {
        this.launching.delete(claimed.job.id);
      }
    }
  }

  private async launch(job: Job, attempt: number, token: string): Promise<void> {
    const payload = job.payload;
    if (!isCommandPayload(payload)) {
      await this.notStarted(job, attempt, token, "not a command: payload needs argv[] and cwd", true);
      return;
    }
    const env = loadEnv(this.o.home, job.id) ?? process.env;
    let dir: string;
    try {
      dir = ensureAttemptDir(this.o.home, job.id, attempt);
      markLedger(this.o.home, job.id, this.o.engine.store.ledger);
    } catch (error) {
      await this.notStarted(
        job,
        attempt,
        token,
        `cannot create the log folder: ${(error as Error).message}`,
        false,
      );
      return;
    }
    const refused = await this.kindOf(job)?.beforeStart?.(job, attempt, dir);
    if (refused !== undefined) {
      await this.notStarted(job, attempt, token, refused, true);
      return;
    }
    if (prestartDelayMs > 0) await sleep(prestartDelayMs);
    // A stop taken since the claim ends it here, before it starts (not a process started after its
    // job was recorded cancelled, ended a second later); so does a stop recorded in the ledger.
    if (await this.stoppedBeforeStart(job, attempt, token, dir)) return;
    try {
      // Before the process exists: a daemon killed from here on leaves its successor the token.
      saveLaunch(dir, { token, owner: this.o.owner, startedAt: Date.now() });
    } catch (error) {
      // A full disk: start anyway; a successor without it finishes the attempt by force.
      this.o.log?.(`could not write launch.json of ${job.id}: ${(error as Error).message}`);
    }
    let started: ReturnType<typeof startDetached>;
    try {
      const stdin = this.kindOf(job)?.stdin?.(job, attempt, dir);
      started = startDetached(payload.argv, payload.cwd, env, dir, stdin);
    } catch (error) {
      const cause = error instanceof NotStarted ? await error.reason : error;
      await this.notStarted(job, attempt, token, `could not start: ${spawnReason(cause, payload)}`, true);
      return;
    }
    const spawned = new Promise<Error | undefined>((resolve) => {
      started.child.once("spawn", () => resolve(undefined));
      started.child.once("error", (error) => resolve(error));
    });
    if (launchDelayMs > 0) await sleep(launchDelayMs);
    const spawnError = await spawned;
    if (spawnError !== undefined) {
      await this.notStarted(
        job,
        attempt,
        token,
        `could not start: ${spawnReason(spawnError, payload)}`,
        true,
      );
      return;
    }
    try {
      saveProcess(dir, {
        pid: started.pid,
        startTime: started.startTime,
        token,
        owner: this.o.owner,
        startedAt: Date.now(),
      });
    } catch (error) {
      // A full disk: the process runs all the same, and this daemon watches it. Should the daemon
      // die too, the next one finds it by launch.json and the wrapper's pid file.
      this.o.log?.(`could not write process.json of ${job.id}: ${(error as Error).message}`);
    }
    const t = this.track(job, attempt, token, started.pid, started.startTime, dir, started.child, payload);
    started.child.once("exit", (code) => {
      if (code !== null) t.exitedWith = code;
      void this.finish(t);
    });
    await this.processStarted(job, started.pid, attempt);
  }

  /**
   * An attempt whose process could not be started ends as one that ran: its failure is recorded,
   * then its kind's `finished` runs (a task's hooks, notifications, lock and `settled` event).
   */
  private notStarted(
    job: Job,
    attempt: number,
    token: string,
    error: string,
    noRetry: boolean,
  ): Promise<void> {
    return this.endedUnstarted(job, attempt, () =>
      this.o.engine.fail(job.id, { token, error, ...(noRetry ? { noRetry } : {}) }),
    );
  }

  /** An attempt that ends before its process started: `record` writes how; then as {@link notStarted}. */
  private async endedUnstarted(job: Job, attempt: number, record: () => Promise<Job>): Promise<void> {
    const ended = await record();
    const kind = this.kindOf(job);
    if (kind?.finished !== undefined) {
      try {
        await kind.finished(
          ended,
          attempt,
          attemptDir(this.o.home, job.id, attempt),
          loadEnv(this.o.home, job.id),
        );
      } catch (e) {
        this.o.log?.(`after ${job.id} finished: ${(e as Error).message}`);
      }
    }
    if (isTerminal(ended.state)) deleteEnv(this.o.home, job.id);
    this.o.onFinished?.(ended);
  }

  /**
   * Ends a claimed attempt before its process starts when it was stopped meanwhile: a stop taken
   * by this daemon (recorded `cancelled` under the attempt's token, its stop id kept in
   * ending.json so the stop's call, repeated, answers that it stopped it, D148), or a cancel
   * recorded in the ledger by another caller. True when it ended it.
   */
  private async stoppedBeforeStart(job: Job, attempt: number, token: string, dir: string): Promise<boolean> {
    const stop = this.pendingStops.get(job.id);
    if (stop !== undefined) {
      await this.endedUnstarted(job, attempt, () => this.cancelUnstarted(job, dir, stop, { token }));
      return true;
    }
    let now: Job;
    try {
      now = await this.o.engine.get(job.id);
    } catch {
      return false; // the ledger cannot say: the claim stands, and the liveness check follows it
    }
    if (now.state === "running" && now.leaseOwner === this.o.owner) return false;
    this.o.log?.(`${job.id} is ${now.state} since it was claimed here: not starting it`);
    await this.endedUnstarted(job, attempt, async () => now);
    return true;
  }

  /**
   * Write why baton ends an attempt (ending.json, D148) before it acts: a daemon killed from then on
   * leaves its successor the outcome, and the stop's id. A full disk is logged: the stop goes on.
   */
  private markEnding(
    jobId: string,
    dir: string,
    ending: EndingRecord["ending"],
    detail: string,
    force: boolean,
    stopId: string | undefined,
  ): void {
    try {
      saveEnding(dir, { ending, detail, force, at: Date.now(), ...(stopId === undefined ? {} : { stopId }) });
    } catch (error) {
      this.o.log?.(`could not write ending.json of ${jobId}: ${(error as Error).message}`);
    }
  }

  /** Record a stop of an attempt whose process never started: `cancelled`, the stop kept in ending.json. */
  private cancelUnstarted(
    job: Job,
    dir: string,
    stop: { force: boolean; stopId: string | undefined },
    lease: { token: string } | { force: true },
  ): Promise<Job> {
    const detail = `${stop.force ? FORCED_STOP : "stopped by user"} before its command started`;
    this.markEnding(job.id, dir, "stop", detail, stop.force, stop.stopId);
    return this.o.engine.cancel(job.id, { ...lease, actor: "user", error: detail });
  }

  private processStarted(job: Job, pid: number, attempt: number, recovered = false): Promise<unknown> {
    return this.o.engine.store.addEvent({
      jobId: job.id,
      workflow: job.workflow,
      project: job.project,
      actor: this.o.owner,
      kind: "process_started",
      fromState: null,
      toState: null,
      details: { pid, attempt, ...(recovered ? { recovered: true } : {}) },
    });
  }

  private track(
    job: Job,
    attempt: number,
    token: string,
    pid: number,
    startTime: string,
    dir: string,
    child: ChildProcess | undefined,
    payload: CommandPayload,
  ): Tracked {
    const t: Tracked = {
      job,
      attempt,
      token,
      pid,
      startTime,
      dir,
      project: job.project,
      pump: new LogPump(dir, this.o.logCapBytes),
      child,
      ending: undefined,
      endingDetail: undefined,
      timers: [],
      finishing: false,
      following: undefined,
      exitedWith: undefined,
      timeoutMs: payload.timeoutMs ?? job.timeoutMs ?? undefined,
      idleTimeoutMs: payload.idleTimeoutMs,
      killGraceMs: payload.killGraceMs ?? this.o.killGraceMs,
    };
    // A stop or timeout a daemon began before it died (D148): the process ends by it, and is
    // recorded so (cancelled, timed_out), whether or not its exit code was written.
    const marked = loadEnding(dir);
    if (marked !== undefined && ["stop", "timeout", "idle"].includes(marked.ending)) {
      t.ending = marked.ending;
      t.endingDetail = marked.detail;
    }
    this.tracked.set(job.id, t);
    t.pump.start();
    t.following = this.kindOf(job)?.follow?.(job, attempt, dir);
    const startedAt = job.startedAt ?? Date.now();
    if (t.timeoutMs !== undefined) {
      // A row written before durations were bounded may name more than 10 years: wait the longest.
      const left = Math.min(MAX_DURATION_MS, Math.max(0, startedAt + t.timeoutMs - Date.now()));
      t.timers.push(after(left, () => this.end(t, "timeout", `timed out after ${t.timeoutMs} ms`)));
    }
    if (t.idleTimeoutMs !== undefined) {
      const idle = t.idleTimeoutMs;
      t.timers.push(
        every(Math.min(1000, Math.max(50, Math.floor(idle / 4))), () => {
          t.pump.pump();
          if (Date.now() - t.pump.lastOutputAt >= idle)
            this.end(t, "idle", `no output for ${idle} ms (idle timeout)`);
        }),
      );
    }
    return t;
  }

  /**
   * Stop a job: a running one gets SIGTERM (SIGKILL with `force`, or after the grace). `stopId`
   * names the stop call, kept with the stop in the attempt folder (D148).
   */
  async stop(jobId: string, force: boolean, stopId?: string): Promise<Job> {
    let t = this.tracked.get(jobId);
    if (t === undefined) {
      // Until the job is tracked, a launch or re-attach that reaches it before its process starts
      // ends it as stopped (D151).
      // The first of concurrent stops is the one recorded (a forced one replaces a plain one).
      const earlier = this.pendingStops.get(jobId);
      const mine = { force, stopId };
      if (earlier === undefined || (force && !earlier.force)) this.pendingStops.set(jobId, mine);
      try {
        t = await this.untrackedStop(jobId);
      } finally {
        if (this.pendingStops.get(jobId) === mine) this.pendingStops.delete(jobId);
      }
    }
    if (t === undefined) {
      const job = await this.o.engine.get(jobId);
      // Ended before its command started by this stop (its ending.json names it).
      if (
        isTerminal(job.state) &&
        stopId !== undefined &&
        loadEnding(attemptDir(this.o.home, jobId, (await this.o.engine.latestAttempts([jobId]))[0]?.n ?? 0))
          ?.stopId === stopId
      )
        return job;
      if (job.state === "running") {
        // Another daemon runs it (another host or home on a shared ledger): the stop is recorded
        // in the ledger, and that daemon ends the process group within a second (SIGTERM, then
        // SIGKILL after its grace; SIGKILL at once when forced). A daemon that is down ends it
        // when it starts again (endOrphans).
        return this.o.engine.cancel(jobId, {
          actor: "user",
          error: `${force ? FORCED_STOP : "stopped by user"}; its daemon (${job.leaseOwner ?? "?"}) ends the process`,
        });
      }
      return this.o.engine.cancel(jobId, { actor: "user" });
    }
    this.end(t, "stop", force ? FORCED_STOP : "stopped by user", force, stopId);
    return t.job;
  }

  /**
   * The tracked job a stop of an untracked one ends up with: the command this daemon is launching
   * (once started), the command of a dead daemon of this host (once re-attached); undefined when
   * it never started (ended by the pending stop) or runs elsewhere.
   */
  private async untrackedStop(jobId: string): Promise<Tracked | undefined> {
    const deadline = Date.now() + 2_000;
    for (;;) {
      const launching = this.launching.get(jobId);
      if (launching !== undefined) {
        await launching.catch(() => undefined);
        return this.tracked.get(jobId);
      }
      const seen = await this.o.engine.get(jobId);
      const tracked = this.tracked.get(jobId);
      if (tracked !== undefined || seen.state !== "running" || seen.leaseOwner === null) return tracked;
      if (ownerGone(seen.leaseOwner)) {
        // Its daemon (of this host) died and this one has not re-attached to it yet (a stop taken
        // while it starts): re-attach first, then stop it here, so its process is signalled now
        // and its exit code recorded, not left to a dead daemon (D148 follow-up).
        await this.reattach();
        return this.tracked.get(jobId);
      }
      // Claimed by this daemon a moment ago: its launch is about to be registered.
      if (seen.leaseOwner !== this.o.owner || Date.now() > deadline) return undefined;
      await sleep(10);
    }
  }

  /** Suspend (SIGSTOP) or continue (SIGCONT) a running job's process group; false when not running here. */
  signal(jobId: string, signal: "SIGSTOP" | "SIGCONT"): boolean {
    const t = this.tracked.get(jobId);
    return t !== undefined && !t.finishing && signalGroup(t.pid, signal);
  }

  private end(t: Tracked, ending: Ending, detail: string, force = false, stopId?: string): void {
    // A timer or a stop that comes after the command ended on its own (its exit code is written,
    // the daemon has not recorded it yet) ends nothing: the command's own outcome is the truth,
    // not a timeout or a stop (a stop answers "already finished"; stranger s17i F2: a successor
    // daemon recorded `cancelled` a command that had exited 42 before the stop began).
    if (ending !== "stopped-elsewhere" && t.ending === undefined && readExitCode(t.dir) !== undefined) return;
    if (t.ending === undefined) {
      t.ending = ending;
      t.endingDetail = detail;
      // Durable before the first signal (D148): a daemon killed from here on leaves its successor
      // why the process ends, so it records this outcome, not a crash.
      if (ending !== "stopped-elsewhere") this.markEnding(t.job.id, t.dir, ending, detail, force, stopId);
    }
    t.timers.push(endGroup(t.pid, t.startTime, force, t.killGraceMs));
  }

  /** End the processes whose job was stopped on another host: the ledger no longer has them running. */
  private async checkStoppedElsewhere(): Promise<void> {
    for (const t of [...this.tracked.values()]) {
      if (t.finishing || t.ending !== undefined) continue;
      let job: Job;
      try {
        job = await this.o.engine.get(t.job.id);
      } catch {
        continue; // the ledger is unreachable for now, or the job was deleted: the heartbeat decides
      }
      if (job.state !== "running" && !t.finishing && t.ending === undefined) {
        this.o.log?.(`${t.job.id} is ${job.state} in the ledger; stopping its process group`);
        this.end(t, "stopped-elsewhere", `${job.state} elsewhere`, stopWasForced(job));
      }
    }
  }

  /** Record the outcome once the group leader is gone. Never rejects: it runs from timers and events. */
  private finish(t: Tracked): Promise<void> {
    return this.settle(t).catch((error: unknown) => {
      this.o.log?.(`after ${t.job.id} ended: ${(error as Error).message}`);
    });
  }

  private async settle(t: Tracked): Promise<void> {
    if (t.finishing) return;
    t.finishing = true;
    for (const timer of t.timers) timer.cancel();
    // Whatever the leader left behind in its group (background children) goes with it. A pid that
    // now names another process means the old group is empty (a group's id is never reused while
    // it has members): that process is someone else's and is left alone.
    if (!pidReused(t.pid, t.startTime) && groupAlive(t.pid)) {
      signalGroup(t.pid, "SIGTERM");
      const deadline = Date.now() + Math.min(t.killGraceMs, 2000);
      while (groupAlive(t.pid) && Date.now() < deadline) await sleep(20);
      signalGroup(t.pid, "SIGKILL");
    }
    // The group is gone: nothing writes the stream files any more. Followers read them first,
    // then the pump moves what is left into output.log and removes them.
    await t.following?.close();
    t.pump.stop(true);
    if (recordDelayMs > 0) await sleep(recordDelayMs);
    const code = readExitCode(t.dir) ?? t.exitedWith;
    const job = await this.recordEnd(t, code);
    this.tracked.delete(t.job.id);
    if (job === undefined) return;
    const kind = this.kindOf(t.job);
    if (kind?.finished !== undefined) {
      try {
        await kind.finished(job, t.attempt, t.dir, loadEnv(this.o.home, job.id));
      } catch (error) {
        this.o.log?.(`after ${job.id} finished: ${(error as Error).message}`);
      }
    }
    if (isTerminal(job.state)) deleteEnv(this.o.home, job.id);
    this.o.onFinished?.(job);
    if (this.claiming) void this.tick();
  }

  /**
   * Write how the attempt ended. While the store answers an error that passes by itself (a full
   * disk, a lock held too long, a lost connection) try again, backing off to 2 s, as the library
   * worker does: the job stays tracked and heartbeated meanwhile, and its exit code (kept in the
   * run folder) is recorded once the store is writable again. Undefined when it cannot be
   * recorded (the lease was lost, another error, the supervisor shut down).
   */
  private async recordEnd(t: Tracked, code: number | undefined): Promise<Job | undefined> {
    for (let delay = 50; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await this.writeEnd(t, code);
      } catch (error) {
        this.o.log?.(`could not record the end of ${t.job.id}: ${(error as Error).message}`);
        if (!passesByItself(error) || this.shutDown) return undefined;
      }
      await sleep(delay);
    }
  }

  private async writeEnd(t: Tracked, code: number | undefined): Promise<Job> {
    const engine = this.o.engine;
    const kind = this.kindOf(t.job);
    const owner = {
      // No token: an attempt folder of an older baton whose daemon died before recording the
      // process; its owner is gone (checked in recoverUnrecorded), so it is finished by force.
      ...(t.token === "" ? { force: true } : { token: t.token }),
      actor: this.o.owner,
    };
    const base = { ...owner, ...(code === undefined ? {} : { exitCode: code }) };
    // A command stopped by baton that answers the signal with exit 0 did not succeed: its timed_out
    // or cancelled attempt records no success code (`wait` exits 124 or 130, not 0).
    const stopped = code === 0 ? owner : base;
    if (t.ending === "stopped-elsewhere") {
      return engine.get(t.job.id); // its outcome is already recorded
    } else if (t.ending === "timeout" || t.ending === "idle") {
      return engine.timeout(t.job.id, { ...stopped, error: t.endingDetail ?? "timed out" });
    } else if (t.ending === "stop") {
      return engine.cancel(t.job.id, { ...stopped, error: t.endingDetail ?? "stopped" });
    } else if (kind?.outcome !== undefined && code !== undefined && code <= 128) {
      const decided = await kind.outcome(t.job, t.attempt, t.dir, code);
      return decided.ok
        ? await engine.complete(t.job.id, { ...base, result: decided.result })
        : await engine.fail(t.job.id, { ...base, error: decided.error });
    } else if (code === 0) {
      return engine.complete(t.job.id, { ...base, result: { exitCode: 0 } });
    } else if (code === undefined) {
      return engine.finish(t.job.id, "crashed", {
        ...base,
        error: "the process ended without an exit code (killed?)",
      });
    } else if (code > 128) {
      return engine.finish(t.job.id, "crashed", { ...base, error: `killed by signal ${code - 128}` });
    } else {
      return engine.fail(t.job.id, { ...base, error: `exit code ${code}` });
    }
  }

  private checkLiveness(): void {
    for (const t of this.tracked.values()) {
      if (t.child !== undefined || t.finishing) continue;
      if (!isSameProcess(t.pid, t.startTime)) void this.finish(t);
    }
  }

  private async heartbeatAll(): Promise<void> {
    for (const t of [...this.tracked.values()]) {
      if (t.finishing) continue;
      try {
        await this.o.engine.heartbeat(t.job.id, t.token, this.o.leaseMs);
      } catch (error) {
        if (error instanceof BatonError && (error.code === "LEASE_LOST" || error.code === "JOB_NOT_FOUND")) {
          // Someone else owns the job now: running it twice is worse than stopping it.
          this.o.log?.(`lease lost on ${t.job.id}; stopping its process group`);
          t.finishing = true;
          for (const timer of t.timers) timer.cancel();
          signalGroup(t.pid, "SIGKILL");
          t.pump.stop();
          void t.following?.close().catch(() => undefined);
          this.tracked.delete(t.job.id);
        }
      }
    }
  }

  /** Take over commands whose daemon died: re-attach to live ones, record the ones that ended. */
  reattach(): Promise<void> {
    // One at a time: two passes at once would both take over the same command.
    this.reattaching ??= this.reattachAll().finally(() => {
      this.reattaching = undefined;
    });
    return this.reattaching;
  }

  private async reattachAll(): Promise<void> {
    const running = await this.o.engine.list(
      { states: ["running"], includeArchived: true },
      { limit: 100_000 },
    );
    for (const job of running) {
      if (job.type !== COMMAND_TYPE && this.kindOf(job) === undefined) continue;
      if (this.tracked.has(job.id)) continue;
      const open = (await this.o.engine.attempts(job.id)).filter((a) => a.endedAt === null).pop();
      if (open === undefined) continue;
      const dir = attemptDir(this.o.home, job.id, open.n);
      let record = loadProcess(dir);
      if (record === undefined) {
        // Its daemon died before it recorded the process: another host's or a live owner's job
        // is left to them (and to lease expiry).
        if (job.leaseOwner === null || !ownerGone(job.leaseOwner)) continue;
        record = await this.recoverUnrecorded(job, open.n, dir);
        if (record === undefined) continue;
      }
      const payload = isCommandPayload(job.payload) ? job.payload : { argv: ["?"], cwd: "/" };
      try {
        await this.o.engine.heartbeat(job.id, record.token, this.o.leaseMs);
      } catch {
        continue; // recovered by someone else meanwhile
      }
      markLedger(this.o.home, job.id, this.o.engine.store.ledger);
      const t = this.track(
        job,
        job.attempts,
        record.token,
        record.pid,
        record.startTime,
        dir,
        undefined,
        payload,
      );
      if (readExitCode(dir) !== undefined || !isSameProcess(record.pid, record.startTime))
        await this.finish(t);
      else if (t.ending !== undefined) {
        // Its daemon died while a stop or timeout was ending it: the SIGKILL after the grace is ours now.
        const marked = loadEnding(dir);
        const left = marked === undefined || marked.force ? 0 : marked.at + t.killGraceMs - Date.now();
        t.timers.push(killAfter(record.pid, record.startTime, left));
      }
    }
    await this.endOrphans();
    await this.tidyRunDirs();
  }

  /**
   * The daemon that claimed this attempt died before it wrote process.json. Three cases, told apart
   * by what the wrapper left in the attempt folder:
   * - its wrapper still runs (the pid it wrote names it): adopt it — the returned record, saved
   *   as process.json, is followed like any re-attached command;
   * - it started and ended (an exit file, or the wrapper's marks without a live wrapper): record
   *   how it ended, its exit code when it left one, here and now;
   * - it never started: crashed, "died before the command started".
   * The lease token comes from launch.json (written before the process started); a folder without
   * one (an older baton) is finished by force, its owner being gone.
   */
  private async recoverUnrecorded(
    job: Job,
    attempt: number,
    dir: string,
  ): Promise<ProcessRecord | undefined> {
    const launch = loadLaunch(dir);
    const wrapper = wrapperIn(dir);
    if (wrapper !== undefined && launch !== undefined) {
      const record: ProcessRecord = {
        ...wrapper,
        token: launch.token,
        owner: this.o.owner,
        startedAt: launch.startedAt,
      };
      try {
        saveProcess(dir, record);
      } catch (error) {
        this.o.log?.(`could not write process.json of ${job.id}: ${(error as Error).message}`);
      }
      this.o.log?.(`${job.id}: adopted its command (pid ${wrapper.pid}), started by a daemon that died`);
      await this.processStarted(job, wrapper.pid, attempt, true).catch(() => undefined);
      return record;
    }
    if (!wrapperStarted(dir) && launch !== undefined && wrapperStarting(dir) !== undefined) {
      // Started just as its daemon died: its pid file comes within moments.
      const deadline = Date.now() + 5_000;
      while (!wrapperStarted(dir) && wrapperStarting(dir) !== undefined && Date.now() < deadline)
        await sleep(20);
      if (wrapperStarted(dir)) return this.recoverUnrecorded(job, attempt, dir);
    }
    if (!wrapperStarted(dir)) {
      const lease = launch === undefined ? { force: true as const } : { token: launch.token };
      const stop = this.pendingStops.get(job.id);
      if (stop !== undefined) {
        // The stop this daemon holds was meant for it: it never ran, and now never will.
        await this.endedUnstarted(job, attempt, () => this.cancelUnstarted(job, dir, stop, lease)).catch(
          () => undefined, // recovered by someone else meanwhile
        );
        return undefined;
      }
      // Its command never ran: the claim goes back to the queue without spending an attempt (a
      // crash here failed a job that never started, and dead-lettered one with no retries left).
      this.o.log?.(`${job.id}: the daemon that claimed it died before the command started; queued again`);
      await this.o.engine
        .finish(job.id, "released", {
          ...lease,
          actor: this.o.owner,
          error: "the daemon that claimed it died before the command started",
        })
        .catch(() => undefined); // recovered by someone else meanwhile
      return undefined;
    }
    // It ran and has ended. Leftovers of its group (background children) go in settle: the pid
    // is the group's id, and "ended" never matches a live process's start time.
    const pid = readWrapperPid(dir) ?? 0;
    if (pid !== 0) await this.processStarted(job, pid, attempt, true).catch(() => undefined);
    const payload = isCommandPayload(job.payload) ? job.payload : { argv: ["?"], cwd: "/" };
    markLedger(this.o.home, job.id, this.o.engine.store.ledger);
    const t = this.track(job, attempt, launch?.token ?? "", pid, "ended", dir, undefined, payload);
    await this.finish(t);
    return undefined;
  }

  /**
   * After a crash: remove the run folders of jobs the ledger no longer has (deleted or cleaned
   * while this home's files could not go with them), and finish storing the output of attempts
   * that ended while no daemon watched them (their stream files moved into output.log).
   */
  private async tidyRunDirs(): Promise<void> {
    try {
      const removed = await sweepJobFiles(this.o.engine.store, this.o.home);
      if (removed.length > 0) this.o.log?.(`removed the run folders of ${removed.length} deleted jobs`);
    } catch (error) {
      this.o.log?.(`could not sweep the run folders: ${(error as Error).message}`);
    }
    for (const { jobId, attempt, dir } of attemptDirs(this.o.home)) {
      if (this.tracked.get(jobId)?.attempt === attempt) continue;
      if (!existsSync(join(dir, "stdout.log")) && !existsSync(join(dir, "stderr.log"))) continue;
      const record = loadProcess(dir);
      const ended =
        readExitCode(dir) !== undefined ||
        record === undefined ||
        pidReused(record.pid, record.startTime) ||
        !groupAlive(record.pid);
      if (ended) new LogPump(dir, this.o.logCapBytes).stop(true);
    }
  }

  /**
   * End the live processes of this home whose attempt the ledger has closed while no daemon
   * watched them: stopped from another host or home while this daemon was down, or given up after
   * their lease expired (and perhaps running again elsewhere). Left alone, they would run forever.
   */
  private async endOrphans(): Promise<void> {
    for (const { jobId, attempt, dir } of attemptDirs(this.o.home)) {
      if (this.tracked.get(jobId)?.attempt === attempt || readExitCode(dir) !== undefined) continue;
      // A wrapper whose process.json was never written (its daemon died first) is found by its pid file.
      const record = loadProcess(dir) ?? wrapperIn(dir);
      // The group outlives its leader when the leader left children behind.
      if (record === undefined || pidReused(record.pid, record.startTime) || !groupAlive(record.pid))
        continue;
      let job: Job | undefined;
      let open = false;
      try {
        job = await this.o.engine.get(jobId);
        open = (await this.o.engine.attempts(jobId)).some((a) => a.n === attempt && a.endedAt === null);
      } catch (error) {
        if (!(error instanceof BatonError && error.code === "NOT_FOUND")) continue; // ledger unreachable
      }
      if (job?.state === "running" && open) continue; // still its attempt: not ours to judge
      const grace =
        (isCommandPayload(job?.payload) ? job.payload.killGraceMs : undefined) ?? this.o.killGraceMs;
      this.o.log?.(
        `${jobId} attempt ${attempt} is no longer running in the ledger; ending its process group`,
      );
      endGroup(record.pid, record.startTime, job !== undefined && stopWasForced(job), grace, { unref: true });
    }
  }

  /** Stop claiming now; wait up to `graceMs` for running commands to end (recording them); leave the rest running. */
  async shutdown(graceMs: number): Promise<void> {
    this.claiming = false;
    const deadline = Date.now() + graceMs;
    while (this.tracked.size > 0 && Date.now() < deadline) {
      this.checkLiveness();
      await sleep(50);
    }
    this.heartbeatTimer?.cancel();
    this.livenessTimer?.cancel();
    this.stoppedTimer?.cancel();
    for (const t of this.tracked.values()) {
      for (const timer of t.timers) timer.cancel();
      t.pump.stop();
      await t.following?.close();
    }
    if (this.ticking !== undefined) await this.ticking;
    this.shutDown = true;
  }

  /** Stop claiming (used the moment a shutdown begins). */
  stopClaiming(): void {
    this.claiming = false;
  }
}
