/**
 * `lock: true`: one run of a task at a time, held as a named lock in the ledger (so every CLI,
 * MCP server and daemon sharing the store sees it). The lock names its run; it is free again when
 * that run is finished, when the run's process is gone from this host (holder killed, daemon
 * dead), or when the run no longer exists. `--force` does not take or check it.
 */
import { hostname } from "node:os";
import { BatonError } from "../core/errors.js";
import { isTerminal } from "../core/states.js";
import type { Engine } from "../engine/engine.js";
import type { LockClaim, LockInfo } from "../store/types.js";
import { isSameProcess } from "../supervisor/process.js";
import { attemptDir, loadProcess } from "../supervisor/run-dir.js";

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
  if (job === undefined || isTerminal(job.state)) return true;
  if (job.state !== "running" || owner.host !== hostname()) return false;
  const attempts = await engine.attempts(job.id);
  const open = attempts.filter((a) => a.endedAt === null).pop();
  if (open === undefined) return false;
  const record = loadProcess(attemptDir(home, job.id, open.n));
  // Claimed but not started yet: the supervisor is about to start it.
  if (record === undefined) return false;
  return !isSameProcess(record.pid, record.startTime);
}

function lockedError(task: string, lock: LockInfo): BatonError {
  const holder = lockRun(lock);
  return new BatonError(
    "TASK_LOCKED",
    `task '${task}' is already running (run ${holder ?? "?"}) and has lock: true; wait for it, or run with --force`,
    { details: { task, run: holder ?? null } },
  );
}

/** The token of the task's current lock when its holder is gone (it may be replaced), else undefined. */
async function staleToken(engine: Engine, home: string, name: string): Promise<string | undefined> {
  const current = await engine.store.getLock(name);
  return current !== undefined && (await lockIsStale(engine, home, current)) ? current.token : undefined;
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
  const stale = await staleToken(engine, home, name);
  const owner: LockOwner = { run: runId, host: hostname() };
  return {
    name,
    owner: JSON.stringify(owner),
    ttlMs: LOCK_TTL_MS,
    ...(stale === undefined ? {} : { staleToken: stale }),
    held: (current) => lockedError(task, current),
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
