/**
 * Agents configured in `baton.yaml` (`agents:`), and in the personal `$BATON_HOME/config.yaml`: a
 * project's agent shadows a personal one of the same name. A named agent that is not configured
 * falls back to a preset (claude, codex, gemini) with no limits.
 */
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { BatonError, InvalidInputError } from "../core/errors.js";
import { parseTimerDuration } from "../core/duration.js";
import { configError, configPaths, readConfigFile } from "../tasks/config.js";
import type { AgentSpec } from "../tasks/schema.js";
import type { AgentLimits } from "./agents.js";
import { AGENT_PRESETS } from "./agents.js";

/** Claude Code resumes a session by id; other presets are continued with the earlier exchange as text. */
const CONTINUE_PRESETS: Readonly<Record<string, readonly string[]>> = {
  claude: ["claude", "-p", "{instructions}", "--output-format", "json", "--resume", "{session}"],
};

/** Everything an agent job is built from. */
export interface ResolvedAgent {
  name: string;
  template: string[];
  continueTemplate?: string[];
  stdin: boolean;
  /** Absolute, when configured. */
  cwd?: string;
  /** Environment added to the caller's (`*_env` keys resolved from it). Never stored in the ledger. */
  env: Record<string, string>;
  timeoutMs?: number;
  retries?: number;
  limits: AgentLimits;
  /** Where it is defined (`baton.yaml`), or "preset". */
  source: string;
}

/** The configured agents a caller sees, by name (project first, then personal). */
export function configuredAgents(
  cwd: string,
  env: NodeJS.ProcessEnv,
): Map<string, { spec: AgentSpec; file: string; root: string }> {
  const { root, projectFile, personalFile } = configPaths(cwd, env);
  const out = new Map<string, { spec: AgentSpec; file: string; root: string }>();
  for (const [file, base] of [
    [projectFile, root],
    [personalFile, homedir()],
  ] as const) {
    const read = readConfigFile(file);
    if (!read.ok) throw configError(read.problems, root);
    for (const [name, spec] of Object.entries(read.value?.spec.agents ?? {})) {
      if (!out.has(name)) out.set(name, { spec, file, root: base });
    }
  }
  return out;
}

/** `env:` of an agent with `KEY_env: VAR` resolved from the caller's environment. */
function resolveEnv(name: string, spec: AgentSpec, callerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    if (!key.endsWith("_env")) {
      out[key] = value;
      continue;
    }
    const resolved = callerEnv[value];
    if (resolved === undefined) {
      throw new BatonError(
        "INVALID_INPUT",
        `agent '${name}' needs the environment variable ${value} (for ${key.slice(0, -4)})`,
      );
    }
    out[key.slice(0, -4)] = resolved;
  }
  return out;
}

/**
 * The agent named `name`: a given command wins (an ad-hoc agent), else `agents.<name>` of the
 * config, else a preset of that name.
 */
export function resolveAgent(
  name: string,
  command: readonly string[] | undefined,
  cwd: string,
  env: NodeJS.ProcessEnv,
): ResolvedAgent {
  if (command !== undefined) {
    if (command.length === 0) throw new InvalidInputError("an agent command needs at least the program name");
    return { name, template: [...command], stdin: false, env: {}, limits: {}, source: "command" };
  }
  const configured = configuredAgents(cwd, env).get(name);
  if (configured === undefined) {
    const preset = AGENT_PRESETS[name];
    if (preset === undefined) {
      const known = [...configuredAgents(cwd, env).keys(), ...Object.keys(AGENT_PRESETS)];
      throw new InvalidInputError(
        `no agent named '${name}': configure it under agents: in baton.yaml, give its command, or use one of ${known.join(", ")}`,
      );
    }
    const again = CONTINUE_PRESETS[name];
    return {
      name,
      template: [...preset],
      ...(again === undefined ? {} : { continueTemplate: [...again] }),
      stdin: false,
      env: {},
      limits: {},
      source: "preset",
    };
  }
  const { spec, file, root } = configured;
  const preset = spec.preset ?? (spec.command === undefined ? name : undefined);
  const template = spec.command ?? (preset === undefined ? undefined : AGENT_PRESETS[preset]);
  if (template === undefined) {
    throw new BatonError("CONFIG_INVALID", `${file}: agents.${name}: expected \`command\` or \`preset\``);
  }
  const again = spec.continue_command ?? (preset === undefined ? undefined : CONTINUE_PRESETS[preset]);
  const limits: AgentLimits = {
    ...(spec.max_concurrent === undefined ? {} : { maxConcurrent: spec.max_concurrent }),
    ...(spec.max_per_host === undefined ? {} : { maxPerHost: spec.max_per_host }),
  };
  return {
    name,
    template: [...template],
    ...(again === undefined ? {} : { continueTemplate: [...again] }),
    stdin: spec.stdin === true,
    ...(spec.cwd === undefined ? {} : { cwd: isAbsolute(spec.cwd) ? spec.cwd : resolve(root, spec.cwd) }),
    env: resolveEnv(name, spec, env),
    ...(spec.timeout === undefined ? {} : { timeoutMs: parseTimerDuration(spec.timeout, "timeout") }),
    ...(spec.retries === undefined ? {} : { retries: spec.retries }),
    limits,
    source: file,
  };
}
