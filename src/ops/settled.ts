/**
 * When a job has written its last event. A task run's hooks and notifications run after its outcome
 * is recorded and end with a `settled` event: `wait_job`, `task run` and `events -f` return after
 * it, so their answer includes the hook and notification results.
 */
import { type FSWatcher, watch } from "node:fs";
import type { Job } from "../core/job.js";
import { isTerminal } from "../core/states.js";
import { after } from "../core/timer.js";
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
  if (!isTerminal(job.state)) return false;
  if (!job.type.startsWith(TASK_TYPE_PREFIX) || job.startedAt === null) return true;
  if (Date.now() - (job.finishedAt ?? 0) > AFTER_WORK_GRACE_MS) return true;
  const [last] = await ctx.engine.events({ jobId: job.id, order: "desc", limit: 1 });
  return last?.kind === SETTLED_EVENT;
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
 * Wait (at most until `deadline`, a Date.now() time) for a finished job's hooks and notifications
 * to be recorded. True when they are (or the job has none).
 */
export async function waitSettled(ctx: OpContext, job: Job, deadline: number): Promise<boolean> {
  let settled = await runFinished(ctx, job);
  while (!settled && Date.now() < deadline) {
    await ledgerChange(ctx, deadline - Date.now());
    settled = await runFinished(ctx, job);
  }
  return settled;
}
