/**
 * Why a job that is not running waits, in one place for `explain`, `status <id>` and the
 * dashboard's why-is-it-waiting: the engine's reasons (dependencies, pauses, resources, run_at),
 * then for a due job what the engine cannot see — an agent's `max_concurrent`, and for a job the
 * daemon runs as a process, whether the home's disk can take its files, whether a daemon runs and
 * which of its limits holds the job (BATON_MAX_RUNNING, BATON_MAX_RUNNING_PER_PROJECT, an agent's
 * `max_per_host`).
 */
import { agentLimitReason, isAgentPayload } from "../agents/agents.js";
import { runsProcess } from "../core/executors.js";
import type { Job } from "../core/job.js";
import type { OpContext } from "./operation.js";

const READY = "it is ready;";

export async function whyWaiting(ctx: OpContext, job: Job): Promise<string[]> {
  const explained = await ctx.engine.explain(job.id);
  const due = explained.reasons.filter((r) => !r.startsWith(READY)).length === 0;
  if (!due || (job.state !== "queued" && job.state !== "retrying")) return explained.reasons;
  const agentLimit = await agentLimitReason(ctx.engine, job);
  if (agentLimit !== undefined) return [agentLimit];
  if (!runsProcess(job.type) || ctx.commands === undefined) return explained.reasons;
  // A full disk holds it whatever the daemon does: its environment and logs cannot be kept (D61).
  if (ctx.commands.homeFull() !== undefined) {
    return [
      `it is held: the disk holding BATON_HOME ${ctx.commands.home} is full, so the daemon cannot start it (its environment and logs are kept there); free some space there and it starts`,
    ];
  }
  const daemon = await ctx.commands.daemonStatus();
  if (!daemon.running) {
    return [
      "it is ready, but the daemon is not running: `baton daemon start` (or any `baton run`) starts it",
    ];
  }
  // What the daemon runs now is what its limits count (its supervisor's tracked processes).
  const here: Job[] = [];
  for (const id of daemon.running_jobs ?? []) {
    const running = await ctx.engine.get(id).catch(() => undefined);
    if (running !== undefined) here.push(running);
  }
  const limits = daemon.limits;
  if (limits !== undefined && here.length >= limits.maxRunning) {
    return [
      `waiting for a run slot: ${here.length} of at most ${limits.maxRunning} processes are running on this daemon (BATON_MAX_RUNNING)`,
    ];
  }
  const inProject = here.filter((j) => j.project !== null && j.project === job.project).length;
  if (limits !== undefined && job.project !== null && inProject >= limits.maxPerProject) {
    return [
      `waiting for a run slot: ${inProject} of at most ${limits.maxPerProject} processes of this project are running (BATON_MAX_RUNNING_PER_PROJECT)`,
    ];
  }
  const perHost = isAgentPayload(job.payload) ? job.payload.limits?.maxPerHost : undefined;
  const sameAgent = here.filter((j) => j.type === job.type).length;
  if (isAgentPayload(job.payload) && perHost !== undefined && sameAgent >= perHost) {
    return [
      `waiting for agent '${job.payload.agent}': ${sameAgent} of its jobs are running on this host (max_per_host ${perHost})`,
    ];
  }
  return ["it is ready; the daemon will start it within a moment"];
}
