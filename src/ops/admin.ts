/**
 * Operations that steer work: skip, accept-before, archive, delete, redrive, pause, clean,
 * doctor, and the multi-agent claim/heartbeat/release trio.
 */
import { z } from "zod";
import { parseDuration } from "../core/duration.js";
import { InvalidInputError, toBatonError } from "../core/errors.js";
import { jobStateSchema, nameSchema } from "../core/job.js";
import type { JobState } from "../core/states.js";
import { TERMINAL_STATES } from "../core/states.js";
import {
  idRef,
  refScopeFields,
  idsFields,
  idsOf,
  itemErrorSchema,
  projectOf,
  resolveAll,
  resolveJob,
  scopeFields,
  singleId,
} from "./common.js";
import type { OpContext } from "./operation.js";
import { defineOperation } from "./operation.js";
import { sweepJobFiles } from "../supervisor/run-dir.js";
import { refuseReserved, runsProcess } from "../core/executors.js";
import { configCheck } from "./task-config.js";
import { jobView, jobViewSchema } from "./views.js";

const changedSchema = z.object({
  changed: z.array(z.object({ id: z.string(), state: jobStateSchema })),
  errors: z.array(itemErrorSchema),
});

/** Apply `action` to each referenced job, collecting per-item errors for batches. */
async function eachJob(
  ctx: OpContext,
  input: { id?: string | undefined; ids?: string[] | undefined; project?: string | undefined },
  action: (id: string) => Promise<{ id: string; state: JobState }>,
): Promise<z.infer<typeof changedSchema>> {
  const refs = idsOf(input);
  const single = singleId(input);
  if (refs.length === 0) throw new InvalidInputError("name the task(s): id or ids");
  const changed: { id: string; state: JobState }[] = [];
  const errors: z.infer<typeof itemErrorSchema>[] = [];
  for (const ref of refs) {
    try {
      const job = await resolveJob(ctx, ref, input);
      const after = await action(job.id);
      changed.push({ id: after.id, state: after.state });
    } catch (error) {
      const e = toBatonError(error);
      if (single) throw e;
      errors.push({ id: ref, code: e.code, message: e.message });
    }
  }
  return { changed, errors };
}

export const skipTask = defineOperation({
  name: "skip_task",
  title: "Skip tasks",
  summary: "Mark tasks as not needed (done without doing them); their dependents are released.",
  input: z.object({ ...idsFields, ...refScopeFields, reason: z.string().max(4096).optional() }),
  output: changedSchema,
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  run: (input, ctx) =>
    eachJob(ctx, input, (id) =>
      ctx.engine.skip(id, {
        actor: ctx.actor,
        ...(input.reason === undefined ? {} : { result: { reason: input.reason } }),
      }),
    ),
});

export const acceptBefore = defineOperation({
  name: "accept_before",
  title: "Accept earlier tasks",
  summary:
    "Resume from a chosen step: every unfinished task of its workflow created before it is marked done.",
  input: z.object({ id: idRef, ...refScopeFields }),
  output: z.object({ accepted: z.array(z.string()) }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    const accepted = await ctx.engine.acceptBefore(job.id, ctx.actor);
    return { accepted: accepted.map((j) => j.id) };
  },
});

export const archiveTasks = defineOperation({
  name: "archive",
  title: "Archive tasks or a workflow",
  summary:
    "Hide finished work from lists (unfinished tasks are cancelled first). Tasks by id, or a whole workflow.",
  input: z.object({ ...idsFields, workflow: z.string().min(1).max(500).optional(), ...scopeFields }),
  output: z.object({ archived: z.number() }),
  readOnly: false,
  destructive: true,
  effects: { deletesData: true },
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const refs = idsOf(input);
    if (input.workflow !== undefined) {
      if (refs.length > 0) throw new InvalidInputError("give ids or a workflow, not both");
      return { archived: await ctx.engine.archiveWorkflow(input.workflow, projectOf(input, ctx), ctx.actor) };
    }
    if (refs.length === 0) throw new InvalidInputError("name the task(s) (id, ids) or a workflow");
    const jobs = await resolveAll(ctx, refs, input);
    return {
      archived: await ctx.engine.archive(
        jobs.map((j) => j.id),
        ctx.actor,
      ),
    };
  },
});

export const unarchiveTasks = defineOperation({
  name: "unarchive",
  title: "Unarchive tasks",
  summary:
    "Show archived tasks in lists again, in the state they were archived in (nothing is re-run). Jobs not archived are left as they are.",
  input: z.object({ ...idsFields, ...refScopeFields }),
  output: z.object({ unarchived: z.number() }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const refs = idsOf(input);
    if (refs.length === 0) throw new InvalidInputError("name the task(s) to unarchive: id or ids");
    const jobs = await resolveAll(ctx, refs, input);
    return {
      unarchived: await ctx.engine.unarchive(
        jobs.map((j) => j.id),
        ctx.actor,
      ),
    };
  },
});

/** What happens to jobs waiting on a job that is deleted or cleaned (without it: refused / kept). */
const dependentsField = z
  .enum(["cancel", "release"])
  .optional()
  .describe(
    "Jobs waiting on a removed job: cancel them, or release (drop) the dependency. Without it a delete is refused (HAS_DEPENDENTS) and clean keeps such a job.",
  );

export const deleteTasks = defineOperation({
  name: "delete_task",
  title: "Delete tasks",
  summary:
    "Remove tasks from the ledger for good (not running ones). The audit trail keeps a 'deleted' event.",
  input: z.object({ ...idsFields, ...refScopeFields, dependents: dependentsField }),
  output: z.object({ deleted: z.number() }),
  readOnly: false,
  destructive: true,
  effects: { deletesData: true },
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const refs = idsOf(input);
    if (refs.length === 0) throw new InvalidInputError("name the task(s) to delete: id or ids");
    const jobs = await resolveAll(ctx, refs, input);
    const ids = jobs.map((j) => j.id);
    const deleted = await ctx.engine.delete(ids, ctx.actor, input.dependents);
    // Their logs and saved environment go in the same step. A crash between the two leaves
    // folders the next sweep (daemon start, clean) removes.
    ctx.commands?.removeJobFiles(ids);
    return { deleted };
  },
});

export const rerunTask = defineOperation({
  name: "rerun_task",
  title: "Run a task again",
  summary:
    "Enqueue a new task like this one (type, name, workflow, project, tags, priority, attempts, backoff) with the same or an edited payload; the original stays as it is. Not for commands, configured tasks and agent jobs: retry_job re-runs those.",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    payload: z.unknown().optional().describe("The new payload (default: the original's)."),
  }),
  output: z.object({ id: z.string(), state: jobStateSchema, from: z.string() }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    refuseReserved(job.type, "rerun_task", "requeue");
    const [outcome] = await ctx.engine.enqueue(
      {
        type: job.type,
        payload: input.payload === undefined ? job.payload : input.payload,
        priority: job.priority,
        maxAttempts: job.maxAttempts,
        backoff: job.backoff,
        tags: job.tags,
        ...(job.name === null ? {} : { name: job.name }),
        ...(job.workflow === null ? {} : { workflow: job.workflow }),
        ...(job.timeoutMs === null ? {} : { timeoutMs: job.timeoutMs }),
      },
      { ...(job.project === null ? {} : { project: job.project }), actor: ctx.actor },
    );
    return { id: outcome!.job.id, state: outcome!.job.state, from: job.id };
  },
});

export const redriveTask = defineOperation({
  name: "redrive_task",
  title: "Redrive dead tasks",
  summary: "Queue failed, timed-out or cancelled tasks again with a fresh attempt budget.",
  input: z.object({ ...idsFields, ...refScopeFields }),
  output: changedSchema,
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  run: (input, ctx) =>
    eachJob(ctx, input, async (id) => {
      refuseReserved((await ctx.engine.get(id)).type, "redrive_task", "requeue");
      return ctx.engine.redrive(id, ctx.actor);
    }),
});

const pauseInput = z.object({
  scope: z
    .enum(["all", "type", "workflow"])
    .optional()
    .describe("Default: all without a target; with one, the type or workflow of that name in the ledger."),
  target: nameSchema("target", 500).optional().describe("The type or workflow name."),
});

/**
 * What a pause names. A bare target used to mean a type, so `pause docs` silently paused a type
 * nobody has while workflow `docs` ran on; now it is the type or the workflow the ledger knows by
 * that name, and when it knows both or neither the caller must say which (`--type`, `-w`).
 */
async function pauseArgs(
  input: z.infer<typeof pauseInput>,
  ctx: OpContext,
): Promise<{ scope: "all" | "type" | "workflow"; target: string }> {
  if (input.scope === "all" || (input.scope === undefined && input.target === undefined)) {
    if (input.target !== undefined)
      throw new InvalidInputError(`pausing everything takes no name (got '${input.target}')`);
    return { scope: "all", target: "*" };
  }
  if (input.target === undefined) throw new InvalidInputError(`pausing a ${input.scope} needs its name`);
  if (input.scope !== undefined) return { scope: input.scope, target: input.target };
  const target = input.target;
  // A name is known when jobs carry it or a pause already names it (so `unpause X` finds it).
  const [types, workflows, pauses] = await Promise.all([
    ctx.engine.count({ types: [target] }),
    ctx.engine.count({ workflow: target }),
    ctx.engine.pauses(),
  ]);
  const isType = types > 0 || pauses.some((p) => p.scope === "type" && p.target === target);
  const isWorkflow = workflows > 0 || pauses.some((p) => p.scope === "workflow" && p.target === target);
  if (isType && !isWorkflow) return { scope: "type", target };
  if (isWorkflow && !isType) return { scope: "workflow", target };
  throw new InvalidInputError(
    isType
      ? `'${target}' names both a type and a workflow; say --type ${target} or --workflow ${target}`
      : `no job has the type or workflow '${target}'; say --type ${target} or --workflow ${target} to name one before any job has it`,
    { target },
  );
}
export const pause = defineOperation({
  name: "pause",
  title: "Pause",
  summary: "Stop claims of everything, one type or one workflow (running work continues).",
  input: pauseInput,
  output: z.object({ paused: z.string(), changed: z.boolean() }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const { scope, target } = await pauseArgs(input, ctx);
    const changed = await ctx.engine.pause(scope, target, ctx.actor);
    return { paused: scope === "all" ? "all" : `${scope}:${target}`, changed };
  },
});

export const unpause = defineOperation({
  name: "unpause",
  title: "Unpause",
  summary: "Let claims of everything, a type or a workflow resume.",
  input: pauseInput,
  output: z.object({ unpaused: z.string(), changed: z.boolean() }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const { scope, target } = await pauseArgs(input, ctx);
    const changed = await ctx.engine.unpause(scope, target, ctx.actor);
    return { unpaused: scope === "all" ? "all" : `${scope}:${target}`, changed };
  },
});

export const clean = defineOperation({
  name: "clean",
  title: "Clean old jobs",
  summary: "Delete finished jobs (and their events and attempts) older than a duration (default 7d).",
  input: z.object({
    olderThan: z.string().max(40).optional().describe("A duration: 7d, 12h, 30m. Default 7d."),
    state: z.array(jobStateSchema).optional().describe("Finished states to remove (default: all finished)."),
    dependents: dependentsField,
  }),
  output: z.object({ deleted: z.number(), olderThan: z.string() }),
  readOnly: false,
  destructive: true,
  effects: { deletesData: true },
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const olderThan = input.olderThan ?? "7d";
    const states = input.state ?? TERMINAL_STATES;
    const deleted = await ctx.engine.clean(
      parseDuration(olderThan, "olderThan"),
      states,
      ctx.actor,
      input.dependents,
    );
    // The removed jobs' run folders go too, with any a crash or another home's delete left behind.
    if (ctx.commands !== undefined) await sweepJobFiles(ctx.engine.store, ctx.commands.home);
    return { deleted, olderThan };
  },
});

export const doctor = defineOperation({
  name: "doctor",
  title: "Doctor",
  summary:
    "Check the ledger: schema, integrity, expired leases, stuck work; says what is wrong and how to fix it.",
  input: z.object({}),
  output: z.object({
    ok: z.boolean(),
    checks: z.array(
      z.object({ name: z.string(), ok: z.boolean(), detail: z.string(), fix: z.string().optional() }),
    ),
  }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(_input, ctx) {
    const checks: { name: string; ok: boolean; detail: string; fix?: string }[] = [];
    const store = ctx.engine.store;
    const version = await store.schemaVersion();
    checks.push({
      name: "store",
      ok: true,
      detail: `${store.kind} at ${ctx.location}, schema version ${version}`,
    });
    const now = ctx.engine.clock.now();
    const running = await ctx.engine.list({ states: ["running"], includeArchived: true }, { limit: 10_000 });
    const expired = running.filter((j) => j.leaseExpiresAt !== null && j.leaseExpiresAt < now);
    checks.push(
      expired.length === 0
        ? { name: "leases", ok: true, detail: `${running.length} running, none with an expired lease` }
        : {
            name: "leases",
            ok: false,
            detail: `${expired.length} running job(s) have an expired lease (their owner stopped heartbeating)`,
            fix: "any claim or `baton recover` takes them back; they are retried or dead-lettered by policy",
          },
    );
    const waiting = await ctx.engine.list({ states: ["waiting"] }, { limit: 1000 });
    let stuck = 0;
    const missing: string[] = [];
    for (const job of waiting) {
      const facts = await store.blockingFacts(job.id);
      const gone = await ctx.engine.missingDependencies(job);
      if (gone.length > 0) missing.push(`${job.id} (on ${gone.join(", ")})`);
      if (
        gone.length > 0 ||
        facts.unfinishedDependencies.some(
          (d) => d.state === "failed" || d.state === "cancelled" || d.state === "timed_out",
        )
      ) {
        stuck++;
      }
    }
    checks.push(
      stuck === 0
        ? {
            name: "dependencies",
            ok: true,
            detail: `${waiting.length} job(s) waiting on dependencies that can still finish`,
          }
        : {
            name: "dependencies",
            ok: false,
            detail:
              missing.length === 0
                ? `${stuck} job(s) wait on a dependency that failed or was cancelled`
                : `${stuck} job(s) wait on a dependency that failed, was cancelled or no longer exists; missing: ${missing.slice(0, 5).join("; ")}${missing.length > 5 ? "; …" : ""}`,
            fix:
              missing.length === 0
                ? "redrive or skip the failed dependency (`baton explain <id>` names it)"
                : "redrive or skip a failed dependency; skip or cancel a job whose dependency no longer exists (`baton explain <id>` names it)",
          },
    );
    checks.push(await configCheck(ctx));
    // A daemon that holds its socket (and its lock) but does not answer hangs every served call
    // until it is resumed or ended (D135).
    const daemon = await ctx.commands?.daemonStatus();
    if (daemon?.responding === false)
      checks.push({
        name: "daemon",
        ok: false,
        detail: daemon.problem ?? `the daemon (pid ${String(daemon.pid)}) does not answer`,
        fix:
          daemon.pid === undefined
            ? "resume (kill -CONT) or end the daemon process of this home"
            : `kill -CONT ${daemon.pid} if it was stopped, else kill ${daemon.pid}; the next call starts a fresh daemon`,
      });
    const pauses = await ctx.engine.pauses();
    checks.push({
      name: "pauses",
      ok: true,
      detail:
        pauses.length === 0
          ? "nothing is paused"
          : `paused: ${pauses.map((p) => `${p.scope}:${p.target}`).join(", ")}`,
    });
    if ("integrityCheck" in store && typeof store.integrityCheck === "function") {
      const result = (store.integrityCheck as () => string).call(store);
      checks.push(
        result === "ok"
          ? { name: "integrity", ok: true, detail: "integrity_check: ok" }
          : { name: "integrity", ok: false, detail: result, fix: "restore the database from a backup" },
      );
    }
    return { ok: checks.every((c) => c.ok), checks };
  },
});

export const claimTask = defineOperation({
  name: "claim_task",
  title: "Claim tasks",
  summary:
    "Take due tasks of the given types under a lease. Keep the token: heartbeat_task extends the lease, complete_task/fail_task must present it.",
  input: z.object({
    types: z.array(nameSchema("type")).min(1).max(100).optional(),
    owner: nameSchema("owner").describe("Who claims (agent name)."),
    leaseSeconds: z.number().int().min(1).max(86_400).optional(),
    limit: z.number().int().min(1).max(100).optional(),
    workflow: z.string().min(1).max(500).optional(),
    ...scopeFields,
  }),
  output: z.object({
    claimed: z.array(
      z.object({ job: jobViewSchema, token: z.string(), attempt: z.number(), leaseExpiresAt: z.string() }),
    ),
  }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    for (const type of input.types ?? []) refuseReserved(type, "claim_task", "claim");
    // Without types: every agent-managed type that has work, never one an executor runs.
    const types =
      input.types ??
      [
        ...new Set((await ctx.engine.countByState({ states: ["queued", "retrying"] })).map((c) => c.type)),
      ].filter((t) => !runsProcess(t));
    if (types.length === 0) return { claimed: [] };
    const claimed = await ctx.engine.claim({
      owner: input.owner,
      types,
      ...(input.leaseSeconds === undefined ? {} : { leaseMs: input.leaseSeconds * 1000 }),
      limit: input.limit ?? 1,
      ...(input.workflow === undefined ? {} : { workflow: input.workflow, project: projectOf(input, ctx) }),
    });
    return {
      claimed: claimed.map((c) => ({
        job: jobView(c.job),
        token: c.token,
        attempt: c.attempt,
        leaseExpiresAt: new Date(c.leaseExpiresAt).toISOString(),
      })),
    };
  },
});

export const heartbeatTask = defineOperation({
  name: "heartbeat_task",
  title: "Extend a lease",
  summary:
    "Keep a claimed task: extends its lease. LEASE_LOST means someone else owns it now: stop working on it.",
  input: z.object({
    id: idRef,
    ...refScopeFields,
    token: z.string().min(1),
    leaseSeconds: z.number().int().min(1).max(86_400).optional(),
  }),
  output: z.object({ id: z.string(), leaseExpiresAt: z.string() }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    const { leaseExpiresAt } = await ctx.engine.heartbeat(
      job.id,
      input.token,
      input.leaseSeconds === undefined ? undefined : input.leaseSeconds * 1000,
    );
    return { id: job.id, leaseExpiresAt: new Date(leaseExpiresAt).toISOString() };
  },
});

export const releaseTask = defineOperation({
  name: "release_task",
  title: "Release a claim",
  summary: "Give a claimed task back to the queue without spending the attempt.",
  input: z.object({ id: idRef, ...refScopeFields, token: z.string().min(1) }),
  output: z.object({ id: z.string(), state: jobStateSchema }),
  readOnly: false,
  destructive: false,
  idempotent: false,
  agent: "full",
  async run(input, ctx) {
    const job = await resolveJob(ctx, input.id, input);
    const released = await ctx.engine.release(job.id, input.token, ctx.actor);
    return { id: released.id, state: released.state };
  },
});

export const recover = defineOperation({
  name: "recover",
  title: "Recover expired leases",
  summary: "Take back running jobs whose owner stopped heartbeating (retried or dead-lettered by policy).",
  input: z.object({}),
  output: z.object({ recovered: z.array(z.object({ id: z.string(), state: jobStateSchema })) }),
  readOnly: false,
  destructive: false,
  idempotent: true,
  agent: "none",
  async run(_input, ctx) {
    const jobs = await ctx.engine.recover();
    return { recovered: jobs.map((j) => ({ id: j.id, state: j.state })) };
  },
});
