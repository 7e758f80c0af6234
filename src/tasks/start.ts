/**
 * Starting a run of a configured task: the one path shared by `baton task run` (every front-end)
 * and the daemon's scheduler. It checks inputs and the environment, takes the task's lock, keeps
 * the resolved environment in the run's private env file (never in the ledger) and inserts the
 * `task:<name>` job the supervisor will run.
 */
import { dirname } from "node:path";
import { BatonError } from "../core/errors.js";
import type { Job } from "../core/job.js";
import type { Engine } from "../engine/engine.js";
import type { LockClaim, NewJob } from "../store/types.js";
import { jobAffinity } from "../supervisor/hosts.js";
import { deleteEnv, saveEnv } from "../supervisor/run-dir.js";
import type { TaskDef } from "./config.js";
import { loadTaskConfig, requireTaskConfig } from "./config.js";
import { acquireTaskLock, releaseTaskLock, taskLockClaim, taskLockName } from "./locks.js";
import { checkPluginInputs, loadPlugin, looseInputs, pluginHostArgv, pluginModulePath } from "./plugins.js";
import type { InputValue, TaskPayload } from "./runner.js";
import { isTaskPayload, planRun, resolveInputs, runEnv, taskType } from "./runner.js";

/** The tags that mark a dry run and a run started with --force (`baton runs` shows them). */
export const DRY_RUN_TAG = "dry-run";
export const FORCED_TAG = "forced";

export interface StartRequest {
  /** `--input k=v` values, before checking. */
  inputs: Record<string, string>;
  dryRun: boolean;
  /** Ignore `lock: true`. */
  force: boolean;
  /** The caller's cwd (personal tasks run there) and environment (the run's base environment). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The BATON_HOME whose daemon runs it: its environment file goes there. */
  home: string;
  actor: string;
  /** The project the run is listed under (default: the task's project, or the caller's). */
  project: string;
  /** An idempotency key (the scheduler's per-slot key). */
  key?: string;
  tags?: string[];
}

/** What would run, for a dry run of a task without `dry_run_command` (nothing is started). */
export interface RunPreview {
  argv: string[];
  cwd: string;
  inputs: Record<string, InputValue>;
  env: string[];
  timeoutMs?: number;
  lock: boolean;
}

export type Prepared =
  | { kind: "job"; row: NewJob; env: NodeJS.ProcessEnv; lock: string | null; home: string }
  | { kind: "preview"; preview: RunPreview };

/**
 * Check a run request and build its job row (not inserted yet) and environment. A dry run of a
 * command task without `dry_run_command` becomes a preview: what would run, with no side effect.
 */
export async function prepareTaskRun(engine: Engine, def: TaskDef, request: StartRequest): Promise<Prepared> {
  // A plugin's inputs are checked by its own schema (the module is loaded now, when it is used).
  const inputs =
    def.kind === "plugin"
      ? (checkPluginInputs(
          def.name,
          await loadPlugin(pluginModulePath(def)),
          looseInputs(request.inputs),
        ) as Record<string, InputValue>)
      : resolveInputs(def, request.inputs);
  const lock =
    def.spec.lock === true && !request.force && !request.dryRun ? taskLockName(def.project, def.name) : null;
  const pluginArgv = def.kind === "plugin" ? pluginHostArgv(def, request.dryRun) : undefined;
  // The id comes first: the environment names it (BATON_RUN_ID).
  const probe = engine.prepare({ type: taskType(def.name) });
  const env = runEnv(def, request.env, inputs, probe.id, request.dryRun);
  const plan = planRun(def, inputs, request.cwd, {
    dryRun: request.dryRun,
    lock,
    ...(pluginArgv === undefined ? {} : { pluginArgv }),
  });
  if (plan === undefined) {
    const real = planRun(def, inputs, request.cwd, { dryRun: false, lock: null })!;
    return {
      kind: "preview",
      preview: {
        argv: real.payload.argv,
        cwd: real.payload.cwd,
        inputs,
        env: Object.keys(def.spec.env ?? {}).map((k) => (k.endsWith("_env") ? k.slice(0, -4) : k)),
        ...(real.timeoutMs === undefined ? {} : { timeoutMs: real.timeoutMs }),
        lock: def.spec.lock === true,
      },
    };
  }
  // A run belongs to the host that started it: its environment file (secrets included) is in this
  // host's BATON_HOME and its config file on this host's disk. On a shared ledger only this
  // host's daemon claims it (docs/postgres.md, "hosts and pools").
  const payload: TaskPayload = {
    ...plan.payload,
    affinity: jobAffinity(undefined, request.env, request.home),
  };
  const row = engine.prepare(
    {
      type: taskType(def.name),
      payload,
      maxAttempts: plan.maxAttempts,
      backoff: plan.backoff,
      project: request.project,
      tags: [
        ...(request.tags ?? []),
        ...(def.spec.tags ?? []),
        ...(request.dryRun ? [DRY_RUN_TAG] : []),
        ...(request.force ? [FORCED_TAG] : []),
      ],
      ...(request.key === undefined ? {} : { idempotencyKey: request.key }),
      ...(plan.timeoutMs === undefined ? {} : { timeoutMs: plan.timeoutMs }),
    },
    { actor: request.actor },
  );
  row.id = probe.id;
  return { kind: "job", row, env, lock, home: request.home };
}

/**
 * Insert a prepared run: the environment file first, in the run's home (the job must not be
 * claimable without it), then the job together with its lock (TASK_LOCKED when another run
 * holds it). `insert` does the insertion, taking `lock` in the same transaction (the scheduler
 * inserts in the same transaction as it advances the schedule).
 */
export async function insertTaskRun(
  engine: Engine,
  def: TaskDef,
  prepared: Extract<Prepared, { kind: "job" }>,
  insert: (
    row: NewJob,
    lock: LockClaim | undefined,
  ) => Promise<{ job: Job; deduplicated: boolean } | undefined>,
): Promise<{ job: Job; deduplicated: boolean } | undefined> {
  const { row, env, lock, home } = prepared;
  const claim = lock === null ? undefined : await taskLockClaim(engine, home, lock, def.name, row.id);
  let inserted: { job: Job; deduplicated: boolean } | undefined;
  try {
    saveEnv(home, row.id, env, engine.store.location);
    inserted = await insert(row, claim);
  } finally {
    // Not this row: refused, deduplicated, or a repeated request answered with its first run.
    if (inserted === undefined || inserted.deduplicated || inserted.job.id !== row.id)
      deleteEnv(home, row.id);
  }
  return inserted;
}

/** Insert a run of a task outside any schedule: with its lock, when it has one. */
export async function insertRunRow(
  engine: Engine,
  actor: string,
  row: NewJob,
  lock: LockClaim | undefined,
): Promise<{ job: Job; deduplicated: boolean }> {
  if (lock !== undefined) return engine.store.insertWithLock(row, actor, lock);
  const [outcome] = await engine.store.insertJobs([row], actor);
  return outcome!;
}

/**
 * The definition a run was started from, read again from its config file (the ledger keeps only
 * the task's name and file, never its environment). CONFIG_INVALID when the file no longer
 * validates, NOT_FOUND when the task is gone from it.
 */
export function taskDefOfRun(payload: TaskPayload, env: NodeJS.ProcessEnv): TaskDef {
  const { name, file } = payload.task;
  const config = requireTaskConfig(dirname(file), env);
  const found =
    config.tasks.find((t) => t.name === name && t.file === file) ??
    (() => {
      const fromCwd = loadTaskConfig(payload.cwd, env);
      return fromCwd.ok ? fromCwd.value.tasks.find((t) => t.name === name && t.file === file) : undefined;
    })();
  if (found === undefined) {
    throw new BatonError("NOT_FOUND", `the task '${name}' is no longer defined in ${file}`, {
      details: { task: name, file },
    });
  }
  return found;
}

/**
 * Get a finished task run ready to run again (`retry_job`): its environment resolved from the
 * task's current definition and the caller's environment exactly as at its first start (`env:`,
 * `*_env` references, inputs, BATON_*), saved to the run's private env file, and its lock taken
 * again. Returns the undo for when the retry itself fails.
 */
export async function prepareTaskRetry(
  engine: Engine,
  home: string,
  job: Job,
  callerEnv: NodeJS.ProcessEnv,
): Promise<() => Promise<void>> {
  const payload = job.payload;
  if (!isTaskPayload(payload)) {
    throw new BatonError("INVALID_INPUT", `job ${job.id} is a ${job.type} job without a task payload`);
  }
  const info = payload.task;
  const def = taskDefOfRun(payload, callerEnv);
  const env = runEnv(def, callerEnv, info.inputs, job.id, info.dryRun);
  if (info.lock !== null) await acquireTaskLock(engine, home, info.lock, def.name, job.id);
  saveEnv(home, job.id, env, engine.store.location);
  return async () => {
    deleteEnv(home, job.id);
    if (info.lock !== null) await releaseTaskLock(engine, info.lock, job.id);
  };
}
