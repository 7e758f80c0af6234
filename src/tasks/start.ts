/**
 * Starting a run of a configured task: the one path shared by `baton task run` (every front-end)
 * and the daemon's scheduler. It checks inputs and the environment, takes the task's lock, keeps
 * the resolved environment in the run's private env file (never in the ledger) and inserts the
 * `task:<name>` job the supervisor will run.
 */
import { dirname } from "node:path";
import { statSync } from "node:fs";
import { BatonError, InvalidInputError } from "../core/errors.js";
import type { Job } from "../core/job.js";
import type { Engine } from "../engine/engine.js";
import type { LockClaim, NewJob } from "../store/types.js";
import { jobAffinity } from "../supervisor/hosts.js";
import { deleteEnv, removeJobFiles, saveEnv } from "../supervisor/run-dir.js";
import type { TaskDef } from "./config.js";
import { loadTaskConfig, requireTaskConfig } from "./config.js";
import { acquireTaskLock, releaseTaskLock, taskLockClaim, taskLockName } from "./locks.js";
import { checkPluginInputs, loadTaskPlugin, pluginHostArgv, withPluginEnv } from "./plugins.js";
import type { InputValue, TaskPayload } from "./runner.js";
import { isTaskPayload, planRun, resolveInputs, runEnv, taskCwd, taskType } from "./runner.js";

/** The tags that mark a dry run and a run started with --force (`baton runs` shows them). */
export const DRY_RUN_TAG = "dry-run";
export const FORCED_TAG = "forced";

export interface StartRequest {
  /** Input values before checking: `--input k=v` strings, or JSON values (MCP, HTTP, library). */
  inputs: Record<string, InputValue>;
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
 * Most bytes of BATON_INPUTS_JSON (all inputs together). The kernel refuses to start a program with
 * one environment variable over 128 KiB (E2BIG); the limit leaves room for the variable's name.
 */
export const MAX_INPUTS_BYTES = 120 * 1024;

/** Inputs too large together to reach the program: refused before anything is queued. */
function checkInputsSize(task: TaskDef, env: NodeJS.ProcessEnv): void {
  const bytes = Buffer.byteLength(env.BATON_INPUTS_JSON ?? "");
  if (bytes <= MAX_INPUTS_BYTES) return;
  throw new InvalidInputError(
    `the inputs of task '${task.name}' are too large together: ${bytes} bytes as BATON_INPUTS_JSON, over ${MAX_INPUTS_BYTES} (the system refuses to start a program with a larger variable); pass large values as files (a path as the input)`,
    { task: task.name, inputs: Object.keys(task.spec.inputs ?? {}), bytes, max: MAX_INPUTS_BYTES },
  );
}

/** A working directory that does not exist: refused before anything is queued. */
function checkCwd(task: TaskDef, cwd: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(cwd).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir) return;
  const field = task.spec.cwd === undefined ? "the working directory" : `tasks.${task.name}.cwd`;
  throw new InvalidInputError(
    `${field}: ${cwd} does not exist or is not a directory (task '${task.name}' runs there)`,
    { task: task.name, field: task.spec.cwd === undefined ? "cwd" : `tasks.${task.name}.cwd`, cwd },
  );
}

/**
 * Check a run request and build its job row (not inserted yet) and environment. A dry run of a
 * command task without `dry_run_command` becomes a preview: what would run, with no side effect.
 */
export async function prepareTaskRun(
  engine: Engine,
  task: TaskDef,
  request: StartRequest,
): Promise<Prepared> {
  // A plugin is loaded now, when it is used: a broken one is CONFIG_INVALID before anything is
  // queued, its inputs are checked by its own definition, and its required environment with the
  // task's (runEnv refuses a run without it).
  let def = task;
  let inputs: Record<string, InputValue>;
  if (def.kind === "plugin") {
    const plugin = await loadTaskPlugin(def);
    def = withPluginEnv(def, plugin);
    inputs = checkPluginInputs(def, plugin, request.inputs);
  } else {
    inputs = resolveInputs(def, request.inputs);
  }
  const lock =
    def.spec.lock === true && !request.force && !request.dryRun ? taskLockName(def.project, def.name) : null;
  const pluginArgv = def.kind === "plugin" ? pluginHostArgv(def, request.dryRun) : undefined;
  // The id comes first: the environment names it (BATON_RUN_ID).
  const probe = engine.prepare({ type: taskType(def.name) });
  const env = runEnv(def, request.env, inputs, probe.id, request.dryRun);
  checkInputsSize(def, env);
  checkCwd(def, taskCwd(def, request.cwd));
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
    saveEnv(home, row.id, env, engine.store.ledger);
    inserted = await insert(row, claim);
  } finally {
    // Not this row: refused, deduplicated, or a repeated request answered with its first run.
    if (inserted === undefined || inserted.deduplicated || inserted.job.id !== row.id)
      removeJobFiles(home, row.id); // its folder was made for this row alone
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
  let def = taskDefOfRun(payload, callerEnv);
  if (def.kind === "plugin") def = withPluginEnv(def, await loadTaskPlugin(def));
  const env = runEnv(def, callerEnv, info.inputs, job.id, info.dryRun);
  if (info.lock !== null) await acquireTaskLock(engine, home, info.lock, def.name, job.id);
  const undo = async () => {
    deleteEnv(home, job.id);
    if (info.lock !== null) await releaseTaskLock(engine, info.lock, job.id);
  };
  try {
    saveEnv(home, job.id, env, engine.store.ledger);
  } catch (error) {
    await undo(); // a full home (STORAGE_FULL): nothing is re-queued, and the lock is not kept
    throw error;
  }
  return undo;
}
