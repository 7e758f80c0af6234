/**
 * When a job has written its last event. A task run's hooks and notifications run after its outcome
 * is recorded and end with a `settled` event: `wait_job`, `task run` and `events -f` return after
 * it, so their answer includes the hook and notification results.
 */
import { type FSWatcher, watch } from "node:fs";
import type { Job, JobEvent } from "../core/job.js";
import { isTerminal } from "../core/states.js";
import { after } from "../core/timer.js";
import { ownerGone } from "../supervisor/process.js";
import { SETTLED_EVENT, TASK_TYPE_PREFIX } from "../tasks/runner.js";
import type { OpContext } from "./operation.js";

/** How long after a task run ends its hooks and notifications may still be writing events. */
const AFTER_WORK_GRACE_MS = 5 * 60_000;

/**
 * Whether a job has written its last event: it ended and, for a task run that started a process,
 * its hooks and notifications are recorded too (its last event is `settled`). A run whose daemon
 * died before settling counts as finished five minutes after it ended.
 */
export async function runFinished(ctx: OpContext, job: Job): Promise<boolean> {
  return (await settling(ctx, job)).finished;
}

/**
 * {@link runFinished}, with the last event it read to decide (only a task run that ended within
 * the grace needs one), which {@link reviveSettler} judges without reading it again.
 */
export async function settling(ctx: OpContext, job: Job): Promise<{ finished: boolean; last?: JobEvent }> {
  if (!isTerminal(job.state)) return { finished: false };
  if (!job.type.startsWith(TASK_TYPE_PREFIX) || job.startedAt === null) return { finished: true };
  if (Date.now() - (job.finishedAt ?? 0) > AFTER_WORK_GRACE_MS) return { finished: true };
  const [last] = await ctx.engine.events({ jobId: job.id, order: "desc", limit: 1 });
  return { finished: last?.kind === SETTLED_EVENT, ...(last === undefined ? {} : { last }) };
}

/**
 * Resolve when the ledger may have changed: a write to the SQLite WAL (fs.watch), else after at
 * most a second (PostgreSQL, or a watch that missed), never later than `ms`.
 */
export function ledgerChange(ctx: OpContext, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const done = () => {
      timer.cancel();
      watcher?.close();
      resolve();
    };
    const timer = after(Math.max(0, Math.min(ms, 1000)), done);
    if (ctx.engine.store.kind !== "sqlite") return;
    try {
      watcher = watch(`${ctx.engine.store.location}-wal`, { persistent: false }, done);
      watcher.on("error", () => undefined);
    } catch {
      watcher = undefined; // no WAL file yet: the timer covers it
    }
  });
}

/**
 * Have a daemon settle a finished run whose settling daemon is gone from this host (SIGKILLed while
 * it ran the run's hooks): start this home's daemon if none runs, as a wait for a running command
 * does. A daemon settles such runs as it starts (stranded.ts, D126); one already running has, or
 * waits for the run's hook to end. Without this a lone waiter, with no other call to start a
 * daemon, waited out {@link AFTER_WORK_GRACE_MS} (D125). A daemon that cannot start leaves the
 * wait to that grace. `last` is what {@link settling} read for an unfinished run.
 */
export async function reviveSettler(ctx: OpContext, last: JobEvent | undefined): Promise<void> {
  if (ctx.commands === undefined || last === undefined || last.kind === SETTLED_EVENT) return;
  if (!ownerGone(last.actor)) return;
  await ctx.commands.ready().catch(() => undefined);
}

/**
 * Wait (at most until `deadline`, a Date.now() time) for a finished job's hooks and notifications
 * to be recorded. True when they are (or the job has none).
 */
export async function waitSettled(ctx: OpContext, job: Job, deadline: number): Promise<boolean> {
  let state = await settling(ctx, job);
  while (!state.finished && Date.now() < deadline) {
    await reviveSettler(ctx, state.last);
    await ledgerChange(ctx, deadline - Date.now());
    state = await settling(ctx, job);
  }
  return state.finished;
}
