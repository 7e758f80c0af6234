/**
 * `lock: true`: one run of a task at a time, held as a named lock in the ledger (so every CLI,
 * MCP server and daemon sharing the store sees it). The lock names its run; it is free again when
 * that run is finished and settled (its hooks and notifications done), when the run's process or
 * the daemon settling it is gone from this host (holder killed, daemon dead), or when the run no
 * longer exists. `--force` does not take or check it.
 */
import { hostname } from "node:os";
import { BatonError } from "../core/errors.js";
import { isTerminal } from "../core/states.js";
import type { Engine } from "../engine/engine.js";
import type { LockClaim, LockInfo } from "../store/types.js";
import type { Job } from "../core/job.js";
import { daemonOwner, hostName, isSameProcess, ownerGone } from "../supervisor/process.js";
import { SETTLED_EVENT } from "./runner.js";
import { attemptDir, loadHookProcess, loadProcess } from "../supervisor/run-dir.js";
import type { HookProcessRecord } from "../supervisor/run-dir.js";

/** Long: the lock is freed by its run's end or death, not by time. */
const LOCK_TTL_MS = 30 * 86_400_000;

interface LockOwner {
  run: string;
  host: string;
}

/** The ledger lock of a task: per project (or personal), per task name. */
export function taskLockName(project: string | null, task: string): string {
  return `task:${project ?? "~"}#${task}`;
}

function ownerOf(lock: LockInfo): LockOwner | undefined {
  try {
    const owner = JSON.parse(lock.owner) as Partial<LockOwner>;
    return typeof owner.run === "string" ? { run: owner.run, host: String(owner.host) } : undefined;
  } catch {
    return undefined;
  }
}

/** The run holding a task lock, if the lock is live. */
export function lockRun(lock: LockInfo): string | undefined {
  return ownerOf(lock)?.run;
}

/** True when the lock's run cannot still be running: finished, gone, or its process died. */
export async function lockIsStale(engine: Engine, home: string, lock: LockInfo): Promise<boolean> {
  const owner = ownerOf(lock);
  if (owner === undefined) return true;
  const job = await engine.store.getJob(owner.run);
  if (job === undefined) return true;
  if (isTerminal(job.state)) return settlingOver(engine, home, job);
  if (job.state !== "running" || owner.host !== hostname()) return false;
  const attempts = await engine.attempts(job.id);
  const open = attempts.filter((a) => a.endedAt === null).pop();
  if (open === undefined) return false;
  const record = loadProcess(attemptDir(home, job.id, open.n));
  // Claimed but not started yet: the supervisor is about to start it.
  if (record === undefined) return false;
  return !isSameProcess(record.pid, record.startTime);
}

/** How long a finished run whose settling nobody can be seen doing may hold its lock (another host's daemon). */
const SETTLE_GRACE_MS = 5 * 60_000;

/**
 * A finished run still holds its lock while its hooks and notifications run: they end with its
 * `settled` event. Without it, the lock is free once the daemon doing that work (the actor of the
 * run's last event, `host:pid:start`) is gone from this host and no hook it started still runs
 * (a hook outlives a killed daemon, as a command does: its process is recorded in `hook.json`);
 * for a daemon of another host, or a run finished by someone else, after {@link SETTLE_GRACE_MS}.
 * A run that never started a process has no hooks to wait for.
 */
async function settlingOver(engine: Engine, home: string, job: Job): Promise<boolean> {
  if (job.startedAt === null) return true;
  const [last] = await engine.events({ jobId: job.id, order: "desc", limit: 1 });
  if (last === undefined || last.kind === SETTLED_EVENT) return true;
  const daemon = daemonOwner(last.actor);
  if (daemon !== undefined && daemon.host === hostName())
    return ownerGone(last.actor) && !(await hookRunning(engine, home, job));
  return Date.now() - (job.finishedAt ?? 0) > SETTLE_GRACE_MS;
}

/** True while a hook started for the run's end (in its last attempt's folder) still runs on this host. */
async function hookRunning(engine: Engine, home: string, job: Job): Promise<boolean> {
  return (await runningHook(engine, home, job)) !== undefined;
}

/** The hook process started for the run's end (in its last attempt's folder) that still runs on this host. */
export async function runningHook(
  engine: Engine,
  home: string,
  job: Job,
): Promise<HookProcessRecord | undefined> {
  const last = (await engine.attempts(job.id)).reduce((n, a) => Math.max(n, a.n), 0);
  if (last === 0) return undefined;
  const hook = loadHookProcess(attemptDir(home, job.id, last));
  return hook !== undefined && isSameProcess(hook.pid, hook.startTime) ? hook : undefined;
}

/**
 * TASK_LOCKED naming the run that holds the lock, and what it is doing, as `holder` (the run read
 * before the claim) says: running; queued (or waiting, retrying) and not started yet; or finished
 * with its hooks and notifications still going. A run not read (the lock taken meanwhile) is named
 * plainly.
 */
function lockedError(task: string, lock: LockInfo, holder: Job | undefined): BatonError {
  const run = lockRun(lock);
  const state = holder !== undefined && holder.id === run ? holder.state : undefined;
  const finished = state !== undefined && isTerminal(state);
  const wait = `wait for it${run === undefined ? "" : ` (baton wait ${run})`}, or pass force to run beside it`;
  return new BatonError(
    "TASK_LOCKED",
    finished
      ? `task '${task}' is locked by run ${run}, which is ${state}: its hooks and notifications are still running (lock: true holds until they end); wait for them (baton wait ${run}), or pass force to run beside it`
      : state === "running"
        ? `task '${task}' is already running (run ${run}) and has lock: true; ${wait}`
        : state !== undefined
          ? `task '${task}' is locked by run ${run}, which is ${state} (lock: true holds from a run's queueing until it ends); ${wait}`
          : `task '${task}' is locked by run ${run ?? "?"} (lock: true); ${wait}`,
    {
      details: {
        task,
        run: run ?? null,
        ...(state === undefined ? {} : { state }),
        ...(finished ? { settling: true } : {}),
      },
    },
  );
}

/**
 * The task's lock for a new run `runId`, to take in the transaction that inserts the run
 * ({@link Store.insertWithLock}): a lock taken before its run's row exists would look stale to a
 * concurrent start (no such run), which would take it over, and both runs would go ahead.
 */
export async function taskLockClaim(
  engine: Engine,
  home: string,
  name: string,
  task: string,
  runId: string,
): Promise<LockClaim> {
  const current = await engine.store.getLock(name);
  const stale =
    current !== undefined && (await lockIsStale(engine, home, current)) ? current.token : undefined;
  // The holder as it is now, for the refusal's words (a lock taken meanwhile is named plainly).
  const run = current === undefined ? undefined : lockRun(current);
  const holder = run === undefined ? undefined : await engine.store.getJob(run);
  const owner: LockOwner = { run: runId, host: hostname() };
  return {
    name,
    owner: JSON.stringify(owner),
    ttlMs: LOCK_TTL_MS,
    ...(stale === undefined ? {} : { staleToken: stale }),
    held: (held) => lockedError(task, held, holder),
  };
}

/**
 * Take the task's lock for `runId`, an existing run (a retry), or throw TASK_LOCKED naming the
 * run that holds it. New runs take it with their insert ({@link taskLockClaim}).
 */
export async function acquireTaskLock(
  engine: Engine,
  home: string,
  name: string,
  task: string,
  runId: string,
): Promise<void> {
  const claim = await taskLockClaim(engine, home, name, task, runId);
  const taken = await engine.store.acquireLock(
    name,
    claim.owner,
    claim.ttlMs,
    (held) => held.token === claim.staleToken,
  );
  if (!taken.acquired) throw claim.held(taken.lock);
}

/** Free the task's lock if `runId` holds it. */
export async function releaseTaskLock(engine: Engine, name: string, runId: string): Promise<boolean> {
  const current = await engine.store.getLock(name);
  if (current === undefined || lockRun(current) !== runId) return false;
  return engine.store.releaseLock(name, current.token);
}
