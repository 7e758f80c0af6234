/**
 * list_configured_agents: the agents of baton.yaml (`agents:`, project first, then the personal
 * config) and the built-in presets, as agent_submit resolves them. Environment values are never
 * shown: only the variable names an agent sets or reads.
 */
import { z } from "zod";
import { AGENT_PRESETS } from "../agents/agents.js";
import { configuredAgents } from "../agents/config.js";
import { displayPath } from "../tasks/config.js";
import { scopeFields } from "./common.js";
import { defineOperation } from "./operation.js";

const configuredAgentSchema = z.object({
  name: z.string(),
  source: z.string().describe("Where it is defined (baton.yaml, the personal config) or `preset`."),
  description: z.string().optional(),
  preset: z.string().optional(),
  command: z.array(z.string()).describe("The command template; `{instructions}` marks the text."),
  stdin: z.boolean(),
  cwd: z.string().optional(),
  env: z.array(z.string()).describe("Names of the variables it sets (values are never shown)."),
  timeout: z.string().optional(),
  retries: z.number().optional(),
  maxConcurrent: z.number().optional(),
  maxPerHost: z.number().optional(),
});

export const listConfiguredAgents = defineOperation({
  name: "list_configured_agents",
  title: "List configured agents",
  summary:
    "The agents agent_submit can use here: those of baton.yaml (agents:) and the presets (claude, codex, gemini), with their command and limits.",
  input: z.object({ ...scopeFields }),
  output: z.object({ agents: z.array(configuredAgentSchema) }),
  readOnly: true,
  destructive: false,
  idempotent: true,
  agent: "full",
  async run(input, ctx) {
    const cwd = input.cwd ?? ctx.cwd;
    const agents: z.infer<typeof configuredAgentSchema>[] = [];
    for (const [name, { spec, file, root }] of configuredAgents(cwd, ctx.env ?? process.env)) {
      const preset = spec.preset ?? (spec.command === undefined ? name : undefined);
      const command = spec.command ?? (preset === undefined ? undefined : AGENT_PRESETS[preset]) ?? [];
      agents.push({
        name,
        source: displayPath(file, root),
        ...(spec.description === undefined ? {} : { description: spec.description }),
        ...(preset === undefined ? {} : { preset }),
        command: [...command],
        stdin: spec.stdin === true,
        ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
        env: Object.keys(spec.env ?? {}).map((k) => (k.endsWith("_env") ? k.slice(0, -4) : k)),
        ...(spec.timeout === undefined ? {} : { timeout: spec.timeout }),
        ...(spec.retries === undefined ? {} : { retries: spec.retries }),
        ...(spec.max_concurrent === undefined ? {} : { maxConcurrent: spec.max_concurrent }),
        ...(spec.max_per_host === undefined ? {} : { maxPerHost: spec.max_per_host }),
      });
    }
    const configured = new Set(agents.map((a) => a.name));
    for (const [name, command] of Object.entries(AGENT_PRESETS)) {
      if (configured.has(name)) continue;
      agents.push({ name, source: "preset", preset: name, command: [...command], stdin: false, env: [] });
    }
    return { agents };
  },
});
