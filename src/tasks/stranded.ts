/**
 * Settling a task run stranded by a daemon killed while it ran the run's hooks or notifications
 * (issue 17/18): the run's events stopped before `settled`, its lock stayed held and `task run`
 * waited for ever. A daemon starting on the host of the dead one settles such a run: once no hook
 * it started still runs (`hook.json`), it records which hooks and notifications have no recorded
 * outcome (`settle_interrupted`), frees the task's lock and writes `settled`. It does not run them
 * again: a hook may not be idempotent, and one may have done its work before the daemon died (D126).
 */
import type { Job, JobEvent } from "../core/job.js";
import { TERMINAL_STATES } from "../core/states.js";
import { every } from "../core/timer.js";
import type { Engine } from "../engine/engine.js";
import { isSameProcess, ownerGone } from "../supervisor/process.js";
import { hookArgvs, hooksFor } from "./hooks.js";
import { runEventWriter } from "./executor.js";
import { releaseTaskLock, runningHook } from "./locks.js";
import { isTaskPayload, SETTLED_EVENT, TASK_TYPE_PREFIX } from "./runner.js";

/** The event naming what a dead daemon left undone; `settled` follows it. */
export const SETTLE_INTERRUPTED_EVENT = "settle_interrupted";

/** What a hook or the notifications left without an outcome by a dead daemon are answered with. */
const NO_OUTCOME =
  "no outcome recorded: the daemon running this run's hooks and notifications died first " +
  "(it may have run to its end, been cut off, or never started); not run again";

/**
 * The results a `settle_interrupted` event stands for, in the shape of `hook` and `notification`
 * event details: one per hook (`when`, `index`) and one for the notifications the dead daemon left
 * without an outcome, each `interrupted: true` with no exit code, so an answer listing a run's
 * hook results (task run --json) shows them instead of leaving them out.
 */
export function interruptedOutcomes(details: Record<string, unknown> | undefined): {
  hooks: Record<string, unknown>[];
  notifications: Record<string, unknown>[];
} {
  const names = Array.isArray(details?.hooks) ? (details.hooks as unknown[]) : [];
  const hooks = names.flatMap((name) => {
    const match = typeof name === "string" ? /^(\w+)\[(\d+)\]$/.exec(name) : null;
    if (match === null) return [];
    return [
      { when: match[1], index: Number(match[2]), exitCode: null, interrupted: true, error: NO_OUTCOME },
    ];
  });
  const notifications =
    details?.notifications === true ? [{ ok: false, interrupted: true, error: NO_OUTCOME }] : [];
  return { hooks, notifications };
}

/** How far back a daemon looks for stranded runs: a lock older than this is stale anyway. */
const LOOKBACK_MS = 30 * 86_400_000;

/** The most runs, and events, one read returns. */
const READ_LIMIT = 100_000;

export interface StrandedOptions {
  engine: Engine;
  home: string;
  actor: string;
  log?: (line: string) => void;
}

/**
 * Settle every finished task run whose settling daemon died on this host: now, or (a hook of
 * it still running) once that hook ends.
 */
export async function settleStranded(options: StrandedOptions): Promise<void> {
  const { engine } = options;
  const finished = await engine.list(
    { states: TERMINAL_STATES, includeArchived: true, finishedAfter: Date.now() - LOOKBACK_MS },
    { limit: READ_LIMIT },
  );
  const runs = finished.filter((job) => job.type.startsWith(TASK_TYPE_PREFIX) && isTaskPayload(job.payload));
  for (const job of await strandedRuns(engine, runs)) {
    const hook = await runningHook(engine, options.home, job);
    if (hook === undefined) {
      await settle(options, job, false);
      continue;
    }
    options.log?.(`${job.id}: its daemon died while hook pid ${hook.pid} ran; settling it once that ends`);
    const poll = every(
      500,
      () => {
        if (isSameProcess(hook.pid, hook.startTime)) return;
        poll.cancel();
        void settle(options, job, true);
      },
      { unref: true },
    );
  }
}

/**
 * The runs whose last event is not `settled` and was written by a daemon of this host that is
 * gone. Two reads however many runs there are (one more when the last events overflow a read):
 * a daemon starts with every finished run of the last 30 days to look at, nearly all settled.
 */
async function strandedRuns(engine: Engine, runs: readonly Job[]): Promise<Job[]> {
  if (runs.length === 0) return [];
  const settled = await engine.events({
    jobIds: runs.map((job) => job.id),
    kinds: [SETTLED_EVENT],
    limit: READ_LIMIT,
  });
  const settledIds = new Set(settled.map((e) => e.jobId));
  const open = runs.filter((job) => !settledIds.has(job.id));
  if (open.length === 0) return [];
  // Newest first: a run's first event in the answer is its last one.
  const events = await engine.events({ jobIds: open.map((job) => job.id), order: "desc", limit: READ_LIMIT });
  const last = new Map<string, JobEvent>();
  for (const e of events) if (e.jobId !== null && !last.has(e.jobId)) last.set(e.jobId, e);
  const stranded: Job[] = [];
  for (const job of open) {
    // Runs whose events were all cut off by the limit: read alone.
    const event =
      last.get(job.id) ??
      (events.length < READ_LIMIT
        ? undefined
        : (await engine.events({ jobId: job.id, order: "desc", limit: 1 }))[0]);
    if (event !== undefined && event.kind !== SETTLED_EVENT && ownerGone(event.actor)) stranded.push(job);
  }
  return stranded;
}

/** Record what has no outcome, free the lock, write `settled`. Never runs a hook or notification. */
async function settle(options: StrandedOptions, job: Job, waitedForHook: boolean): Promise<void> {
  const { engine, actor } = options;
  if (!isTaskPayload(job.payload)) return;
  const info = job.payload.task;
  try {
    const events = await engine.events({ jobId: job.id, limit: 100_000 });
    if (events.some((e) => e.kind === SETTLED_EVENT)) return; // settled by someone else meanwhile
    const recorded = new Set(
      events
        .filter((e) => e.kind === "hook")
        .map((e) => `${String(e.details?.when)}[${String(e.details?.index)}]`),
    );
    const unrecorded: string[] = [];
    if (!info.dryRun) {
      for (const when of hooksFor(job.state === "succeeded")) {
        const spec = info.hooks[when];
        if (spec === undefined) continue;
        hookArgvs(spec).forEach((_, index) => {
          const name = `${when}[${index}]`;
          if (!recorded.has(name)) unrecorded.push(name);
        });
      }
    }
    const notifications = info.notify && !events.some((e) => e.kind === "notification");
    const event = runEventWriter(engine, actor);
    const undone = [...unrecorded, ...(notifications ? ["notifications"] : [])];
    // A daemon that died settling it wrote this already: one record of what is undone.
    if (!events.some((e) => e.kind === SETTLE_INTERRUPTED_EVENT))
      await event(job, SETTLE_INTERRUPTED_EVENT, {
        error:
          `the daemon running this run's hooks and notifications died; no outcome recorded for: ` +
          `${undone.length === 0 ? "nothing" : undone.join(", ")} (each may have run to its end, been cut off, or never ` +
          "started; not run again)",
        hooks: unrecorded,
        notifications,
        waitedForHook,
      });
    if (info.lock !== null) await releaseTaskLock(engine, info.lock, job.id);
    await event(job, SETTLED_EVENT, {});
    options.log?.(`${job.id}: settled after its daemon died (not run: ${undone.join(", ") || "nothing"})`);
  } catch (error) {
    options.log?.(`could not settle ${job.id}: ${(error as Error).message}`);
  }
}
