/**
 * The supervisor's kind for configured-task runs (`task:<name>` jobs): the supervisor claims,
 * starts, watches and times them out like `command` jobs; this adds what is particular to tasks —
 * JSONL stdout lines stored as events while they stream, the exit code judged by
 * `success_exit_codes`, stdout parsed into the result by `output:`, and after the outcome is
 * recorded: hooks, notifications and the release of the task's lock.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, watch } from "node:fs";
import { dirname, join } from "node:path";
import type { Job } from "../core/job.js";
import { isTerminal } from "../core/states.js";
import type { Engine } from "../engine/engine.js";
import { readStreamText, streamTail } from "../supervisor/run-dir.js";
import type { ProcessKind } from "../supervisor/supervisor.js";
import type { HookData } from "./hooks.js";
import { hooksFor, runHook } from "./hooks.js";
import { releaseTaskLock } from "./locks.js";
import type { TaskPayload } from "./runner.js";
import { isTaskPayload, jsonLine, parseOutput, SETTLED_EVENT, TASK_TYPE_PREFIX } from "./runner.js";
import type { RunOutcome } from "./notify.js";
import { deliverNotifications } from "./notify.js";
import type { NotifySpec } from "./schema.js";
import { taskDefOfRun } from "./start.js";
import { every } from "../core/timer.js";

/** Delivers a task's notifications (default: src/tasks/notify.ts); results are recorded as job events. */
export type Notifier = (spec: NotifySpec, event: RunOutcome, env: NodeJS.ProcessEnv) => Promise<unknown[]>;

export interface TaskExecutorOptions {
  engine: Engine;
  home: string;
  actor: string;
  notify?: Notifier;
  log?: (line: string) => void;
}

/** Largest JSONL line stored as an event (bytes); longer lines are noted, not stored. */
const MAX_EVENT_LINE = 64 * 1024;
/** Most output events stored per attempt. */
const MAX_EVENTS = 10_000;

/** Follow stdout.log, calling `onLine` with each complete line as it is written. */
function tailLines(file: string, onLine: (line: string) => void): { close(): Promise<void> } {
  let offset = 0;
  let partial = "";
  const buffer = Buffer.alloc(64 * 1024);
  const drain = (final: boolean) => {
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size < offset) offset = 0; // truncated by the log cap
    if (size > offset) {
      const fd = openSync(file, "r");
      try {
        while (offset < size) {
          const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - offset), offset);
          if (n <= 0) break;
          offset += n;
          partial += buffer.subarray(0, n).toString("utf8");
          const lines = partial.split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) onLine(line);
          if (partial.length > MAX_EVENT_LINE * 2) partial = "";
        }
      } finally {
        closeSync(fd);
      }
    }
    if (final && partial !== "") {
      onLine(partial);
      partial = "";
    }
  };
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(file, () => drain(false));
    watcher.on("error", () => undefined);
  } catch {
    watcher = undefined;
  }
  const timer = every(250, () => drain(false), { unref: true });
  drain(false);
  return {
    close: async () => {
      timer.cancel();
      watcher?.close();
      drain(true);
    },
  };
}

/** The attempt's stdout, wherever it is stored now (D56). */
function readStdout(dir: string): string {
  return readStreamText(dir, "stdout", Number.POSITIVE_INFINITY);
}

/**
 * Why a run failed, in words: `command not found: X` for an argv command that does not exist (exit
 * 127), else the exit code with the last lines of stderr (a thrown error's message, a tool's
 * complaint), else with the summary its stdout gave.
 */
export function failureReason(
  argv: readonly string[],
  exitCode: number,
  dir: string,
  summary: string | undefined,
): string {
  if (exitCode === 127 && argv[0] !== "/bin/sh" && argv[0] !== process.execPath)
    return `command not found: ${argv[0] ?? ""}`;
  const stderr = streamTail(dir, "stderr");
  const why = stderr !== "" ? stderr : summary;
  return `exit code ${exitCode}${why === undefined ? "" : `: ${why}`}`;
}

function summaryOf(result: unknown): string | undefined {
  const r = result as { summary?: unknown; message?: unknown } | null;
  if (r === null || typeof r !== "object") return undefined;
  const s = typeof r.summary === "string" ? r.summary : typeof r.message === "string" ? r.message : undefined;
  return s?.slice(0, 500);
}

function finalStatus(job: Job, dryRun: boolean): RunOutcome["status"] {
  if (job.state === "succeeded") return dryRun ? "dry_run" : "succeeded";
  if (job.state === "timed_out") return "timed_out";
  if (job.state === "cancelled") return "cancelled";
  return "failed";
}

/** Writes a task run's events (hook, notification, settled…) as `actor`. */
export function runEventWriter(engine: Engine, actor: string) {
  return async (job: Job, kind: string, details: Record<string, unknown>): Promise<void> => {
    await engine.store.addEvent({
      jobId: job.id,
      workflow: job.workflow,
      project: job.project,
      actor,
      kind,
      fromState: null,
      toState: null,
      details,
    });
  };
}

/** The supervisor kind that runs `task:<name>` jobs. */
export function taskProcessKind(options: TaskExecutorOptions): ProcessKind {
  const { engine, actor } = options;
  const event = runEventWriter(engine, actor);

  return {
    typePrefix: TASK_TYPE_PREFIX,

    follow(job, attempt, dir) {
      const payload = job.payload as TaskPayload;
      if (!isTaskPayload(payload) || (payload.task.output !== "jsonl" && payload.task.output !== "auto")) {
        return { close: async () => undefined };
      }
      let stored = 0;
      let chain = Promise.resolve();
      const tail = tailLines(join(dir, "stdout.log"), (line) => {
        if (stored >= MAX_EVENTS || line.length > MAX_EVENT_LINE) return;
        const object = jsonLine(line);
        if (object === undefined) return;
        stored++;
        chain = chain
          .then(() => event(job, "output", { attempt, line: object }))
          .catch((error: unknown) => options.log?.(`output event of ${job.id}: ${String(error)}`));
      });
      return {
        close: async () => {
          await tail.close();
          await chain;
        },
      };
    },

    async outcome(job, _attempt, dir, exitCode) {
      const payload = job.payload as TaskPayload;
      if (!isTaskPayload(payload))
        return exitCode === 0
          ? { ok: true, result: { exitCode } }
          : { ok: false, error: `exit code ${exitCode}` };
      const info = payload.task;
      const parsed = parseOutput(info.output, readStdout(dir), exitCode);
      const result = { ...parsed.result, ...(info.dryRun ? { dryRun: true } : {}) };
      if (!info.successExitCodes.includes(exitCode))
        return { ok: false, error: failureReason(payload.argv, exitCode, dir, summaryOf(result)) };
      if (parsed.error !== undefined) return { ok: false, error: parsed.error };
      return { ok: true, result };
    },

    async finished(job, attempt, dir, env) {
      const payload = job.payload as TaskPayload;
      if (!isTaskPayload(payload)) return;
      const info = payload.task;
      // Retries left: the run is not over; hooks, notifications and the lock wait for its end.
      if (!isTerminal(job.state)) return;
      const exitCode = existsSync(join(dir, "exit"))
        ? Number(readFileSync(join(dir, "exit"), "utf8").trim())
        : undefined;
      const data: HookData = {
        runId: job.id,
        task: info.name,
        status: job.state,
        exitCode: Number.isFinite(exitCode) ? exitCode : undefined,
        summary: summaryOf(job.result) ?? job.error ?? undefined,
        result: job.result,
        logPath: join(dir, "output.log"),
      };
      const baseEnv = env ?? process.env;
      try {
        if (!info.dryRun) {
          for (const when of hooksFor(job.state === "succeeded")) {
            const spec = info.hooks[when];
            if (spec === undefined) continue;
            const outcomes = await runHook(when, spec, {
              // A run whose working directory is gone (it could not start) runs its hooks where
              // its config is, so they can still report it.
              cwd: existsSync(payload.cwd) ? payload.cwd : dirname(info.file),
              env: baseEnv,
              data,
              logFile: join(dir, "hooks.log"),
            });
            for (const o of outcomes) await event(job, "hook", { ...o, attempt });
          }
        }
        if (info.notify) {
          let spec: NotifySpec | undefined;
          try {
            spec = taskDefOfRun(payload, baseEnv).spec.notify;
          } catch {
            spec = undefined;
          }
          if (spec === undefined) {
            await event(job, "notification", {
              ok: false,
              error: "the task's notify: config could not be read",
            });
          } else {
            const outcome: RunOutcome = {
              runId: job.id,
              task: info.name,
              status: finalStatus(job, info.dryRun),
              exitCode: data.exitCode ?? null,
              durationMs: Math.max(0, (job.finishedAt ?? Date.now()) - (job.startedAt ?? job.createdAt)),
              logPath: data.logPath,
              result: job.result,
              ...(data.summary === undefined ? {} : { summary: data.summary }),
              ...(job.project === null ? {} : { project: job.project }),
            };
            const deliveries = await (options.notify ?? deliverNotifications)(spec, outcome, baseEnv);
            for (const d of deliveries) await event(job, "notification", d as Record<string, unknown>);
          }
        }
      } finally {
        if (info.lock !== null) await releaseTaskLock(engine, info.lock, job.id);
        // The run's last event: followers (`events -f`, job_events) end on it, not on the state
        // change, so they also get the hook and notification results written after it.
        await event(job, SETTLED_EVENT, {});
      }
    },
  };
}
