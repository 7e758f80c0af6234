/**
 * Background commands: start a command now, check on it later from any chat or terminal.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { COMMAND_TYPE, runsProcess } from "../core/executors.js";
import { parseTimerDuration } from "../core/duration.js";
import { sleep } from "../core/timer.js";
import { BatonError, toBatonError } from "../core/errors.js";
import type { Attempt, Job } from "../core/job.js";
import type { EnqueueOutcome } from "../store/types.js";
import { jobStateSchema, nameSchema } from "../core/job.js";
import type { JobState } from "../core/states.js";
import { isTerminal } from "../core/states.js";
import {
  boundElsewhere,
  herePlace,
  homeId,
  hostSchema,
  jobAffinity,
  listHosts,
} from "../supervisor/hosts.js";
import { daemonOwner, hostName } from "../supervisor/process.js";
import { prepareTaskRetry } from "../tasks/start.js";
import {
  countsSchema,
  idRef,
  projectDirectory,
  projectOf,
  refScopeFields,
  resolveJob,
  scopeFields,
} from "./common.js";
import type { CommandHost, OpContext } from "./operation.js";
import { defineOperation } from "./operation.js";
import { runFinished, waitSettled } from "./settled.js";
import { whyWaiting } from "./waiting.js";
import { jobSummary, jobSummarySchema, jobView, jobViewSchema } from "./views.js";

/** Jobs the supervisor runs as a process: commands, configured tasks, agent jobs (core/executors). */
export { runsProcess };

function host(ctx: OpContext): CommandHost {
  if (ctx.commands === undefined) {
    throw new BatonError("INVALID_INPUT", "this front-end cannot run commands (no daemon access)");
  }
  return ctx.commands;
}

const duration = z.string().max(40).describe("A duration: 30s, 10m, 2h.");

function checkCommands(id: string): Record<string, string> {
  return {
    status: `baton status ${id}`,
    logs: `baton logs ${id} -f`,
    wait: `baton wait ${id}`,
    stop: `baton stop ${id}`,
  };
}

export const runCommand = defineOperation({
  name: "run_command",
  title: "Run a command in the background",
  summary:
    "Start a shell command detached (caller's cwd and environment) and return its id at once; check it later with job_status, job_logs, wait_job.",
  input: z.object({
    argv: z
      .array(z.string().max(128 * 1024))
      .min(1)
      .max(10_000)
      .describe("The command and its arguments (no shell)."),
    name: nameSchema("name").optional(),
    timeout: duration.optional(),
    idleTimeout: duration.optional().describe("Stop when there is no output for this long."),
    key: nameSchema("key", 500)
      .optional()
      .describe("Idempotency key: the run with it (live, or finished until cleaned) is returned instead."),
    retries: z.number().int().min(0).max(100).optional().describe("Extra attempts on failure (default 0)."),
    tags: z.array(nameSchema("tag", 100)).max(50).optional(),
    pool: z
      .string()
      .max(100)
      .optional()
      .describe("Run on any daemon serving this pool (BATON_POOLS) instead of this host's."),
    ...scopeFields,
  }),
  output: z.object({
    id: z.string(),
    name: z.string().optional(),
    state: jobStateSchema,
    deduplicated: z.boolean(),
    logPath: z.string(),
    check: z.record(z.string(), z.string()),
  }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const commands = host(ctx);
    // A cwd that is no directory could only fail to start: refused now, naming it (D145).
    const cwd =
      input.cwd === undefined ? ctx.cwd : projectDirectory(input.cwd, ctx.cwd, "cwd", "a directory");
    // One string with spaces is a shell command line (`baton run "make && make test"`).
    const argv =
      input.argv.length === 1 && /\s/.test(input.argv[0]!) ? ["/bin/sh", "-c", input.argv[0]!] : input.argv;
    const timeoutMs = input.timeout === undefined ? undefined : parseTimerDuration(input.timeout, "timeout");
    const idleTimeoutMs =
      input.idleTimeout === undefined ? undefined : parseTimerDuration(input.idleTimeout, "idle timeout");
    await commands.ready();
    const [outcome] = await enqueueWithEnv(
      ctx,
      commands,
      [
        {
          type: COMMAND_TYPE,
          payload: {
            argv,
            cwd,
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
            ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
            affinity: jobAffinity(input.pool, ctx.env ?? process.env, commands.home),
          },
          maxAttempts: (input.retries ?? 0) + 1,
          project: projectOf({ ...input, cwd }, ctx),
          ...(input.name === undefined ? {} : { name: input.name }),
          ...(input.key === undefined ? {} : { idempotencyKey: input.key }),
          ...(input.tags === undefined ? {} : { tags: input.tags }),
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        },
      ],
      [ctx.env ?? process.env],
    );
    const job = outcome!.job;
    // A repeat of a request (R-32) finishes what the first call may not have: the wake, unless the
    // command has started since. (Its environment was saved before the first call queued it.)
    const started =
      ctx.request?.replayed === true && (await ctx.engine.store.getJob(job.id))?.state !== "queued";
    if (!outcome!.deduplicated && !started) await commands.wake([job.id]);
    return {
      id: job.id,
      ...(job.name === null ? {} : { name: job.name }),
      state: job.state,
      deduplicated: outcome!.deduplicated,
      logPath: commands.logPath(job.id, Math.max(1, job.attempts)),
      check: checkCommands(job.id),
    };
  },
});

/**
 * Enqueue jobs the daemon runs (atomically), each one's environment saved first under the id its
 * job will have (D140): no job is claimable without its environment, and a disk that fills after
 * `ready` (STORAGE_FULL) or any other failure to keep it answers with nothing queued. The files of
 * a row that did not become a job (refused, deduplicated, a repeated request answered with its
 * first job) are removed; those of a write whose outcome the store could not tell (a connection
 * lost at commit) are left: its job needs them, and without a job a sweep removes them (D134).
 */
export async function enqueueWithEnv(
  ctx: OpContext,
  commands: CommandHost,
  specs: readonly Record<string, unknown>[],
  envs: readonly NodeJS.ProcessEnv[],
): Promise<EnqueueOutcome[]> {
  const rows = ctx.engine.prepareAll(specs, { actor: ctx.actor });
  const ids = rows.map((row) => row.id);
  let outcomes: EnqueueOutcome[];
  try {
    rows.forEach((row, i) => commands.saveEnv(row.id, envs[i]!));
    outcomes = await ctx.engine.insert(rows, { actor: ctx.actor });
  } catch (error) {
    const code = toBatonError(error).code;
    if (code !== "STORE_UNAVAILABLE" && code !== "STORE_IO") commands.removeJobFiles(ids);
    throw error;
  }
  const queued = new Set(outcomes.flatMap((o) => (o.deduplicated ? [] : [o.job.id])));
  const unused = ids.filter((id) => !queued.has(id));
  if (unused.length > 0) commands.removeJobFiles(unused);
  return outcomes;
}

/** The job's latest attempt (its number names the run folder), if it ever started. */
async function latestAttempt(ctx: OpContext, job: Job): Promise<Attempt | undefined> {
  return (await ctx.engine.latestAttempts([job.id]))[0];
}

/** What a live job that is not running waits for, in one word, as `status` groups them. */
function waitingFor(job: Job, now: number): "agent" | "dependencies" | "due time" | "retry" | "run slot" {
  if (job.state === "waiting") return "dependencies";
  if (job.state === "retrying" && job.runAt > now) return "retry";
  if (job.runAt > now) return "due time";
  return runsProcess(job.type) ? "run slot" : "agent";
}

/**
 * The number of a job's latest attempt, which names its run folder (0 before its first claim).
 * Not `job.attempts`: that is the retry budget spent, which a release gives back.
 */
export async function latestAttemptNumber(ctx: OpContext, job: Job): Promise<number> {
  return (await latestAttempt(ctx, job))?.n ?? 0;
}

/** The exit code of a job's latest attempt, if it has one. */
export async function lastExitCode(ctx: OpContext, job: Job): Promise<number | undefined> {
  return (await latestAttempt(ctx, job))?.exitCode ?? undefined;
}

export const jobStatus = defineOperation({
  name: "job_status",
  title: "Status",
  summary:
    "One job (state, pid, exit code, log path), or with no id the system: daemon, hosts, running, queued, recent failures.",
  input: z.object({ id: idRef.optional(), ...scopeFields, all: z.boolean().optional() }),
  output: z.object({
    job: jobViewSchema.optional(),
    pid: z.number().optional(),
    exitCode: z.number().optional(),
    logPath: z.string().optional(),
    waitingReason: z.array(z.string()).optional(),
    daemon: z
      .object({
        running: z.boolean(),
        pid: z.number().optional(),
        dashboard: z.string().optional().describe("The daemon-hosted dashboard's URL (no token), when up."),
        responding: z
          .boolean()
          .optional()
          .describe("false: the daemon holds its socket but does not answer (stopped or hung)."),
        problem: z.string().optional().describe("When it does not answer: its pid and how to recover."),
      })
      .optional(),
    hosts: z
      .array(hostSchema)
      .optional()
      .describe("Daemons on this ledger that heartbeat, with their pools."),
    counts: countsSchema.optional(),
    running: z.array(jobSummarySchema).optional(),
    queued: z
      .array(
        jobSummarySchema.extend({
          waitingFor: z
            .enum(["agent", "dependencies", "due time", "retry", "run slot"])
            .optional()
            .describe(
              "What it waits for: an agent to claim it (checkpoint tasks), jobs it depends on, its due time, its retry's time, or the daemon to start it.",
            ),
        }),
      )
      .optional(),
    recentFailures: z.array(jobSummarySchema).optional(),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    if (input.id !== undefined) {
      const job = await resolveJob(ctx, input.id, input);
      const out: Record<string, unknown> = { job: jobView(job) };
      const code = await lastExitCode(ctx, job);
      if (code !== undefined) out.exitCode = code;
      const latest = await latestAttempt(ctx, job);
      if (ctx.commands !== undefined && runsProcess(job.type) && latest !== undefined) {
        out.logPath = ctx.commands.logPath(job.id, latest.n);
        const proc = ctx.commands.processOf(job.id, latest.n);
        if (proc !== undefined && job.state === "running") out.pid = proc.pid;
      }
      if (!isTerminal(job.state) && job.state !== "running") out.waitingReason = await whyWaiting(ctx, job);
      return out;
    }
    const filter = input.all === true ? {} : { project: projectOf(input, ctx) };
    const [counts, running, queued, failures, daemon, hosts] = await Promise.all([
      ctx.engine.countByState(filter),
      ctx.engine.list({ ...filter, states: ["running"] }, { limit: 50 }),
      ctx.engine.list({ ...filter, states: ["queued", "waiting", "retrying"] }, { limit: 20, order: "asc" }),
      ctx.engine.list({ ...filter, states: ["failed", "timed_out"] }, { limit: 5 }),
      ctx.commands?.daemonStatus() ??
        Promise.resolve<{
          running: boolean;
          pid?: number;
          dashboard?: string;
          responding?: boolean;
          problem?: string;
        }>({
          running: false,
        }),
      listHosts(ctx.engine.store),
    ]);
    const byState: Record<string, number> = {};
    for (const c of counts) byState[c.state] = (byState[c.state] ?? 0) + c.count;
    return {
      daemon: {
        running: daemon.running,
        ...(daemon.pid === undefined ? {} : { pid: daemon.pid }),
        ...(daemon.dashboard === undefined ? {} : { dashboard: daemon.dashboard }),
        ...(daemon.responding === false ? { responding: false, problem: daemon.problem } : {}),
      },
      hosts,
      counts: byState,
      running: running.map(jobSummary),
      queued: queued.map((job) => ({
        ...jobSummary(job),
        waitingFor: waitingFor(job, ctx.engine.clock.now()),
      })),
      recentFailures: failures.map(jobSummary),
    };
  },
});

/**
 * Where an attempt whose run folder is not in this home ran, when that can be told: the host (and
 * home) its job is bound to, else the host of the daemon that ran it, else that daemon's home from
 * the registry of live daemons. Undefined when it ran here, or nobody can tell.
 */
async function ranElsewhere(
  ctx: OpContext,
  job: Job,
  attempt: Attempt | undefined,
): Promise<string | undefined> {
  const env = ctx.env ?? process.env;
  const home = host(ctx).home;
  const bound = boundElsewhere(job.payload, env, home);
  if (bound !== undefined) return bound;
  const daemon = attempt === undefined ? undefined : daemonOwner(attempt.owner);
  if (daemon === undefined) return undefined;
  if (daemon.host !== hostName(env)) return daemon.host;
  const entry = (await listHosts(ctx.engine.store)).find(
    (h) => h.host === daemon.host && h.pid === daemon.pid,
  );
  return entry !== undefined && entry.home !== homeId(home)
    ? `${daemon.host} (home ${entry.home})`
    : undefined;
}

export const jobLogs = defineOperation({
  name: "job_logs",
  title: "Logs",
  summary:
    "The last lines of a command's output (stdout and stderr merged by line), or of stdout / stderr only.",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    lines: z
      .union([z.number().int().min(1).max(1_000_000), z.literal("all")])
      .optional()
      .describe('Default 50; "all" for the whole stored log.'),
    stream: z.enum(["output", "stdout", "stderr"]).optional(),
    attempt: z.number().int().min(1).optional().describe("Default: the latest."),
  }),
  output: z.object({
    id: z.string(),
    attempt: z.number(),
    stream: z.string(),
    path: z.string().describe("The file the attempt's output is stored in (both streams)."),
    text: z.string(),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const commands = host(ctx);
    const job = await resolveJob(ctx, input.id, input);
    const attempts = await ctx.engine.attempts(job.id);
    const attempt = input.attempt ?? attempts.at(-1)?.n ?? 0;
    if (attempt < 1) throw new BatonError("NOT_FOUND", `job ${job.id} has not started yet: no logs`);
    const stream = input.stream ?? "output";
    const path = commands.logPath(job.id, attempt);
    if (!commands.hasLog(job.id, attempt)) {
      // On a shared ledger the attempt may have run in another host's (or home's) daemon: its
      // logs are there, never in the ledger. An empty answer would read as "it printed nothing".
      const record = attempts.find((a) => a.n === attempt);
      const elsewhere = await ranElsewhere(ctx, job, record);
      if (elsewhere !== undefined) {
        throw new BatonError(
          "WRONG_HOST",
          `attempt ${attempt} of job ${job.id} ran on host '${elsewhere}': its logs are in that host's BATON_HOME, run baton logs ${job.id} there`,
          { details: { host: elsewhere } },
        );
      }
      if (record === undefined || record.endedAt !== null) {
        // A job bound to this host and home ran here: its folder was removed, not kept elsewhere.
        const boundHere =
          (job.payload as { affinity?: unknown } | null)?.affinity ===
          `host:${herePlace(ctx.env ?? process.env, commands.home)}`;
        throw new BatonError(
          "NOT_FOUND",
          `attempt ${attempt} of job ${job.id} has no logs in ${commands.home}${
            record === undefined
              ? ""
              : boundHere
                ? `: it ran in this home, and its run folder ${commands.logPath(job.id, attempt)} has been removed since; its output is lost`
                : ` (it ran under ${record.owner}; if that daemon served another BATON_HOME, its logs are there)`
          }`,
        );
      }
    }
    const text = commands.readLog(job.id, attempt, stream, input.lines ?? 50);
    // An empty log means the command printed nothing (D57), never that it did not run: an attempt
    // that ended without a process (its folder made, then a missing cwd, a full disk…) says so.
    const ended = attempts.find((a) => a.n === attempt);
    if (text === "" && ended !== undefined && ended.endedAt !== null && !commands.started(job.id, attempt)) {
      throw new BatonError(
        "NOT_FOUND",
        `attempt ${attempt} of job ${job.id} never started its command${ended.error === null ? "" : ` (${ended.error})`}: it has no output`,
        { details: { neverStarted: true } },
      );
    }
    return { id: job.id, attempt, stream, path, text };
  },
});

export const waitJob = defineOperation({
  name: "wait_job",
  title: "Wait for a job",
  summary:
    "Wait until a job finishes, at most `timeoutSeconds` (default 45): says 'still running' when it has not.",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    timeoutSeconds: z.number().min(0).max(3600).optional(),
  }),
  output: z.object({
    id: z.string(),
    finished: z.boolean(),
    state: jobStateSchema,
    exitCode: z.number().optional(),
    message: z.string(),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    let job = await resolveJob(ctx, input.id, input);
    const deadline = Date.now() + (input.timeoutSeconds ?? 45) * 1000;
    if (!isTerminal(job.state)) {
      const unanswered = await host(ctx)
        .waitFor(job.id, deadline - Date.now())
        .then(
          () => undefined,
          (error: unknown) => {
            // A daemon that does not answer (D138): the ledger still says whether the job ended.
            if ((error as { code?: string }).code === "DAEMON_UNRESPONSIVE") return error as Error;
            throw error;
          },
        );
      job = await ctx.engine.get(job.id);
      if (unanswered !== undefined && !isTerminal(job.state)) throw unanswered;
    }
    // A task run is finished once its hooks and notifications are recorded too (`settled`).
    const finished = isTerminal(job.state) && (await waitSettled(ctx, job, deadline));
    return waitAnswer(job, finished, await lastExitCode(ctx, job));
  },
});

/** What `wait_job` answers for a job, once whether it finished and its exit code are known. */
export interface WaitAnswer {
  id: string;
  finished: boolean;
  state: JobState;
  exitCode?: number;
  message: string;
}

function waitAnswer(job: Job, finished: boolean, exitCode: number | undefined): WaitAnswer {
  return {
    id: job.id,
    finished,
    state: job.state,
    ...(exitCode === undefined ? {} : { exitCode }),
    message: finished
      ? `finished: ${job.state}`
      : isTerminal(job.state)
        ? `${job.state}; its hooks and notifications are still running: wait again (baton wait, wait_job)`
        : `still ${job.state}; wait again (baton wait, wait_job)`,
  };
}

/**
 * `wait_job` with no wait for each of many jobs as they were read: what it would answer now, with
 * the exit codes in one read (a listing of 50 jobs asked wait_job, and the ledger, 50 times).
 */
export async function waitAnswers(ctx: OpContext, jobs: readonly Job[]): Promise<WaitAnswer[]> {
  const latest = await ctx.engine.latestAttempts(jobs.map((job) => job.id));
  const codes = new Map(latest.map((a) => [a.jobId, a.exitCode ?? undefined]));
  return Promise.all(
    jobs.map(async (job) =>
      waitAnswer(job, isTerminal(job.state) && (await runFinished(ctx, job)), codes.get(job.id)),
    ),
  );
}

/**
 * What a stop did, so a caller (the dashboard's bulk Cancel, a script) can say so truthfully:
 * `cancelled` (it was queued or waiting, or its process was ended), `already_finished` (it had
 * finished before the stop reached it: nothing changed), `still_running` (its process was signalled
 * but had not ended within the wait).
 */
export const stopOutcomeSchema = z
  .enum(["cancelled", "already_finished", "still_running"])
  .describe(
    "cancelled: it was queued/waiting or its process was ended; already_finished: it had finished before the stop (nothing changed); still_running: signalled, not ended yet.",
  );

export const stopOutputSchema = z.object({
  id: z.string(),
  state: jobStateSchema,
  outcome: stopOutcomeSchema,
  message: z.string(),
});

/**
 * A fault-injection seam, off by default: hold `stop_job` this long between its read of a job that
 * is not running and its cancel, so a test can have a daemon claim the job in between.
 */
const stopReadDelayMs = Number(process.env.BATON_TEST_STOP_READ_DELAY_MS ?? 0) || 0;

export const stopJob = defineOperation({
  name: "stop_job",
  title: "Stop a job",
  summary:
    "Stop a running command (SIGTERM to its process group, grace, SIGKILL; at once with force) or cancel a queued job. A job that already finished is left as it is and answered `outcome: already_finished`.",
  input: z.object({ id: idRef, ...refScopeFields, force: z.boolean().optional() }),
  output: stopOutputSchema,
  readOnly: false,
  destructive: true,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    // This call's name, kept by the daemon with the stop (D148): repeated under the same request id
    // after its daemon died, it learns that the job it finds cancelled was stopped by it.
    const stopId = ctx.requestId ?? `stop-${randomUUID()}`;
    const finished = async (done: Job) =>
      stopAnswer(
        done.id,
        done.state,
        done.state === "cancelled" &&
          (ctx.commands?.stoppedBy?.(done.id, await latestAttemptNumber(ctx, done)) === stopId ||
            (await cancelledByThisRequest(ctx, done)))
          ? "cancelled"
          : "already_finished",
      );
    if (isTerminal(job.state)) return finished(job);
    // A running command is stopped by its daemon, which records the cancel in its own process:
    // stop_requested is this call's own write first, binding its request id (D153). False: the job
    // no longer runs.
    let earlierAttempt = false;
    const stopRunning = async (): Promise<boolean> => {
      const attempt = await latestAttemptNumber(ctx, job);
      if (!(await stopRequested(ctx, job, input.force, attempt))) return false;
      // Repeated under its request id after the job was retried: the first call stopped an earlier
      // attempt, and this one must not stop the new one (stranger s17j F1). A repeat for the same
      // attempt sends the stop again (the first may not have been sent, D138).
      if (ctx.request?.replayed === true && (await stopRequestedAttempt(ctx, job)) !== attempt) {
        earlierAttempt = true;
        return true;
      }
      const commands = host(ctx);
      await commands.stop(job.id, input.force === true, stopId);
      await commands.waitFor(job.id, 30_000);
      return true;
    };
    // Not running: cancelled only if it still is not (no `force` over a lease). A daemon that
    // claimed it meanwhile owns it, and is asked to stop it: a cancel forced over its claim let the
    // command start after its job was recorded cancelled (stranger s17i F1).
    const cancelUnlessClaimed = async () => {
      try {
        await ctx.engine.finish(job.id, "cancelled", { actor: ctx.actor, force: false });
      } catch (error) {
        if (!(error instanceof BatonError && error.code === "LEASE_LOST")) throw error;
        await stopRunning();
      }
    };
    try {
      if (job.state === "running" && runsProcess(job.type)) {
        if (!(await stopRunning())) await cancelUnlessClaimed();
      } else if (runsProcess(job.type)) {
        if (stopReadDelayMs > 0) await sleep(stopReadDelayMs);
        await cancelUnlessClaimed();
      } else {
        await ctx.engine.cancel(job.id, { actor: ctx.actor });
      }
    } catch (error) {
      // It finished between the read above and the cancel (the transition is then refused):
      // that is "already finished", not an error.
      const now = await ctx.engine.get(job.id);
      if (!isTerminal(now.state)) throw error;
      return finished(now);
    }
    if (earlierAttempt) return stopAnswer(job.id, "cancelled", "cancelled");
    const after = await ctx.engine.get(job.id);
    return stopAnswer(
      after.id,
      after.state,
      after.state === "cancelled"
        ? "cancelled"
        : isTerminal(after.state)
          ? "already_finished"
          : "still_running",
    );
  },
});

/**
 * Record the stop of a running command on its job (`stop_requested`, D153) before the daemon is
 * asked: the daemon records the cancel in its own process, so without this write the call's
 * request id (R-32) was bound to nothing, and the same id then stopped another job or queued a
 * run. Written only while the job still runs, so it never follows a finished job's last event
 * (`settled`); false when it no longer runs (a repeat of the request answers what the first saw).
 */
async function stopRequested(
  ctx: OpContext,
  job: Job,
  force: boolean | undefined,
  attempt: number,
): Promise<boolean> {
  const event = {
    jobId: job.id,
    workflow: job.workflow,
    project: job.project,
    actor: ctx.actor,
    kind: "stop_requested",
    fromState: null,
    toState: null,
    details: { attempt, force: force === true },
  };
  return ctx.engine.store.addEvent(event, { whileState: "running" });
}

/** The attempt the job's newest `stop_requested` event names (undefined without one). */
async function stopRequestedAttempt(ctx: OpContext, job: Job): Promise<unknown> {
  const [last] = await ctx.engine.events({
    jobId: job.id,
    kinds: ["stop_requested"],
    order: "desc",
    limit: 1,
  });
  return last?.details?.attempt;
}

/**
 * Whether this call, repeated under its request id, is the one that cancelled `job` (not running
 * when it was first read): its cancel is the request's first write, which answers, replayed, the
 * job it cancelled (R-32). A stop whose daemon died between that commit and its answer was told
 * "already finished" by the repeat (stranger s17i). Without a request id, or when the request's first
 * write was something else (a `stop_requested` event, D153), or none: false, and nothing is written.
 */
async function cancelledByThisRequest(ctx: OpContext, job: Job): Promise<boolean> {
  if (ctx.requestId === undefined) return false;
  try {
    const replayed: unknown = await ctx.engine.finish(job.id, "cancelled", {
      actor: ctx.actor,
      force: false,
    });
    return (
      typeof replayed === "object" &&
      replayed !== null &&
      (replayed as Job).id === job.id &&
      (replayed as Job).state === "cancelled"
    );
  } catch {
    return false; // not a replay: the job was already cancelled, the transition is refused
  }
}

function stopAnswer(
  id: string,
  state: Job["state"],
  outcome: z.infer<typeof stopOutcomeSchema>,
): z.infer<typeof stopOutputSchema> {
  const message =
    outcome === "cancelled"
      ? `job ${id} cancelled`
      : outcome === "already_finished"
        ? `job ${id} had already finished (${state}): nothing to stop`
        : `job ${id} was signalled and is still ${state}: it ends after its grace period (force kills it at once)`;
  return { id, state, outcome, message };
}

export const retryJob = defineOperation({
  name: "retry_job",
  title: "Retry a job",
  summary:
    "Run a finished job again as a new attempt: same command and cwd, with the caller's current environment (a task run: its task's env: and *_env references resolved from it again).",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    force: z
      .boolean()
      .optional()
      .describe("Reopen a succeeded or skipped checkpoint too (its work was done or declared not needed)."),
  }),
  output: z.object({ id: z.string(), state: jobStateSchema, attempt: z.number() }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    // A checkpoint that succeeded (or was skipped) is finished work: reopening it by accident
    // would have an agent redo it. A command or task run is retried to run it again, as asked.
    if (
      !runsProcess(job.type) &&
      (job.state === "succeeded" || job.state === "skipped") &&
      input.force !== true
    )
      throw new BatonError(
        "INVALID_TRANSITION",
        `job ${job.id} is ${job.state}: its work is done, so retry leaves it (pass force to reopen it)`,
        { details: { id: job.id, state: job.state, action: "retry" } },
      );
    const env = ctx.env ?? process.env;
    // On a shared ledger a host-bound run is retried where it ran: its cwd, config file and the
    // environment saved below must be on the host whose daemon will claim it.
    const elsewhere = runsProcess(job.type) ? boundElsewhere(job.payload, env, host(ctx).home) : undefined;
    if (elsewhere !== undefined) {
      throw new BatonError(
        "WRONG_HOST",
        `job ${job.id} runs on host '${elsewhere}' (its working directory and environment are there): retry it there`,
        { details: { host: elsewhere } },
      );
    }
    // The environment goes in place before the job is claimable, or it could start without it.
    // A task run's is resolved from its task again (`env:`, `*_env` secrets), as at its first start.
    if (runsProcess(job.type)) await host(ctx).ready();
    let undo: (() => Promise<void>) | undefined;
    if (job.type === "command" && isTerminal(job.state)) host(ctx).saveEnv(job.id, env);
    else if (job.type.startsWith("task:") && isTerminal(job.state))
      undo = await prepareTaskRetry(ctx.engine, host(ctx).home, job, env);
    // The attempt number is counted in the retry's transaction, so a repeat of the request replays
    // the answer the first call gave (not the count of attempts run since).
    let retried: Job;
    let attempt: number;
    try {
      ({ job: retried, attempt } = await ctx.engine.retry(job.id, ctx.actor));
    } catch (error) {
      await undo?.();
      throw error;
    }
    if (runsProcess(retried.type)) await host(ctx).wake([retried.id]);
    return { id: retried.id, state: retried.state, attempt };
  },
});
