/**
 * Agent jobs: a job whose payload is instructions for an agent CLI (Claude Code, Codex, Gemini CLI
 * or any command). The supervisor runs them like background commands — own process group, caller's
 * cwd and environment, logs, timeouts, re-attach after a daemon crash — as `agent:<name>` jobs; this
 * module only turns instructions into argv and reads the agent's final answer.
 *
 * The instructions reach the agent as one argv element (or inside one, where a template puts text
 * around `{instructions}`): never through a shell, so quotes, `$()` and newlines arrive intact.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_PRESETS, INSTRUCTIONS_PLACEHOLDER } from "../core/agent-presets.js";
import { InvalidInputError } from "../core/errors.js";
import type { Job } from "../core/job.js";
import type { Engine } from "../engine/engine.js";
import { readStreamText, streamTail } from "../supervisor/run-dir.js";
import type { CommandPayload, ProcessKind } from "../supervisor/supervisor.js";

export { AGENT_TYPE_PREFIX } from "../core/executors.js";
import { AGENT_TYPE_PREFIX } from "../core/executors.js";
export const SESSION_PLACEHOLDER = "{session}";
export { AGENT_PRESETS, INSTRUCTIONS_PLACEHOLDER };

/** Concurrency limits of one agent (from `agents:` in baton.yaml), kept on each of its jobs. */
export interface AgentLimits {
  /** Jobs of the agent running at once, all hosts together. */
  maxConcurrent?: number;
  /** Jobs of the agent running at once on one host (one daemon). */
  maxPerHost?: number;
}

/** What an agent job's payload holds: a command payload plus what it was built from. */
export interface AgentPayload extends CommandPayload {
  agent: string;
  instructions: string;
  /** Free-form metadata (`pr=42`), searchable with the job's tags `meta:<key>=<value>`. */
  meta?: Record<string, string>;
  /** Who submitted it (tag `user:<name>`). */
  user?: string;
  /** The kind of work (`review`), tag `kind:<kind>`: the job type itself is `agent:<name>`. */
  kind?: string;
  /** The instructions go to the agent on stdin (the attempt's instructions.txt), not in argv. */
  stdin?: boolean;
  limits?: AgentLimits;
  /** The command template it was built from, and the one that resumes a session (for `continue`). */
  template?: string[];
  continueTemplate?: string[];
  /** The agent job this one follows up (`baton agent continue`). */
  continues?: string;
}

export function isAgentPayload(value: unknown): value is AgentPayload {
  const v = value as Partial<AgentPayload> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.agent === "string" &&
    typeof v.instructions === "string" &&
    Array.isArray(v.argv)
  );
}

/**
 * The argv for `instructions` from a command template: every `{instructions}` is replaced by the
 * text, inside whatever element holds it. A template without the placeholder gets the instructions
 * as its last argument.
 */
export function agentArgv(template: readonly string[], instructions: string): string[] {
  if (template.length === 0) throw new InvalidInputError("an agent command needs at least the program name");
  if (!template.some((a) => a.includes(INSTRUCTIONS_PLACEHOLDER))) return [...template, instructions];
  // split/join rather than replace(): `$&` and friends in the text must stay literal.
  return template.map((a) => a.split(INSTRUCTIONS_PLACEHOLDER).join(instructions));
}

/** The argv for a template, with `{session}` (in a continue template) replaced too. */
export function agentArgvWith(
  template: readonly string[],
  instructions: string,
  stdin: boolean,
  session?: string,
): string[] {
  const filled =
    session === undefined ? template : template.map((a) => a.split(SESSION_PLACEHOLDER).join(session));
  if (!stdin) return agentArgv(filled, instructions);
  // On stdin: the placeholder goes away with the element that holds only it.
  return filled
    .filter((a) => a !== INSTRUCTIONS_PLACEHOLDER)
    .map((a) => a.split(INSTRUCTIONS_PLACEHOLDER).join(""));
}

const MAX_SUMMARY = 2000;

/**
 * The agent's final answer from its stdout: the last JSON object it printed (a whole-output JSON
 * document or the last JSON line), else the tail of its text. `summary` is the short form shown in
 * lists: a `result`, `summary` or `message` field of the JSON, or the last lines of text.
 */
export function agentResult(stdout: string): { summary: string; json?: unknown } {
  const text = stdout.trim();
  const candidates = [text, ...text.split("\n").reverse()];
  for (const candidate of candidates) {
    const line = candidate.trim();
    if (!line.startsWith("{")) continue;
    try {
      const json = JSON.parse(line) as Record<string, unknown>;
      const field = [json.result, json.summary, json.message].find((v) => typeof v === "string");
      return { summary: (typeof field === "string" ? field : line).slice(0, MAX_SUMMARY), json };
    } catch {
      // not JSON: keep looking
    }
  }
  return { summary: text.slice(-MAX_SUMMARY) };
}

/** The attempt's stdout (its last megabyte), wherever it is stored now (D56). */
function readStdout(dir: string): string {
  return readStreamText(dir, "stdout");
}

/** Where an attempt's instructions are written when they go on stdin. */
export const INSTRUCTIONS_FILE = "instructions.txt";

/**
 * Why a due agent job is not started, when its agent's limits are what holds it: "agent 'x' has 2
 * running (max_concurrent 2)". Undefined when its limits leave room (or it has none).
 */
export async function agentLimitReason(engine: Engine, job: Job): Promise<string | undefined> {
  if (!job.type.startsWith(AGENT_TYPE_PREFIX) || !isAgentPayload(job.payload)) return undefined;
  const max = job.payload.limits?.maxConcurrent;
  if (max === undefined) return undefined;
  const running = await engine.count({ types: [job.type], states: ["running"] });
  if (running < max) return undefined;
  return `waiting for agent '${job.payload.agent}': ${running} of its jobs are running (max_concurrent ${max})`;
}

/** The limits an agent has now: those of its newest job (submitted with the current config). */
async function currentLimits(engine: Engine, type: string): Promise<AgentLimits> {
  const [newest] = await engine.list({ types: [type] }, { limit: 1 });
  return newest !== undefined && isAgentPayload(newest.payload) ? (newest.payload.limits ?? {}) : {};
}

/**
 * The supervisor kind that runs `agent:<name>` jobs: exit 0 succeeds, the answer is the result.
 * Agents whose `max_concurrent` (ledger-wide) or `max_per_host` (this daemon) is reached are not
 * claimed: their jobs wait in the queue, and {@link agentLimitReason} says so.
 */
export function agentProcessKind(options: { engine: Engine }): ProcessKind {
  const { engine } = options;
  return {
    typePrefix: AGENT_TYPE_PREFIX,
    stdin(job, _attempt, dir) {
      if (!isAgentPayload(job.payload) || job.payload.stdin !== true) return undefined;
      const file = join(dir, INSTRUCTIONS_FILE);
      writeFileSync(file, job.payload.instructions, { mode: 0o600 });
      return file;
    },
    async excludeTypes(running) {
      const here = new Map<string, number>();
      for (const job of running) {
        if (job.type.startsWith(AGENT_TYPE_PREFIX)) here.set(job.type, (here.get(job.type) ?? 0) + 1);
      }
      const everywhere = new Map<string, number>();
      for (const c of await engine.countByState({ states: ["running"] })) {
        if (c.type.startsWith(AGENT_TYPE_PREFIX) && c.state === "running")
          everywhere.set(c.type, (everywhere.get(c.type) ?? 0) + c.count);
      }
      const full: string[] = [];
      for (const [type, count] of everywhere) {
        const limits = await currentLimits(engine, type);
        const local = here.get(type) ?? 0;
        if (
          (limits.maxConcurrent !== undefined && count >= limits.maxConcurrent) ||
          (limits.maxPerHost !== undefined && local >= limits.maxPerHost)
        )
          full.push(type);
      }
      return full;
    },
    async outcome(job: Job, _attempt: number, dir: string, exitCode: number) {
      const answer = agentResult(readStdout(dir));
      if (exitCode !== 0) {
        // Why it failed is on stderr (its complaint, a thrown message); stdout only as a fallback.
        const stderr = streamTail(dir, "stderr");
        const tail = stderr !== "" ? stderr : answer.summary.split("\n").slice(-3).join(" ").slice(0, 300);
        return { ok: false, error: `agent exited with code ${exitCode}${tail === "" ? "" : `: ${tail}`}` };
      }
      return { ok: true, result: { exitCode, ...answer } };
    },
  };
}
