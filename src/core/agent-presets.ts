/**
 * The built-in agent CLIs (`preset: claude`), known to both the agent runner (src/agents) and the
 * baton.yaml schema (src/tasks), which sits below it: so they live here, in core.
 */

/** Where a command template puts the instructions (one argv element, never through a shell). */
export const INSTRUCTIONS_PLACEHOLDER = "{instructions}";

/** Built-in command templates of well-known agent CLIs (headless, non-interactive modes). */
export const AGENT_PRESETS: Readonly<Record<string, readonly string[]>> = {
  claude: ["claude", "-p", INSTRUCTIONS_PLACEHOLDER, "--output-format", "json"],
  codex: ["codex", "exec", INSTRUCTIONS_PLACEHOLDER],
  gemini: ["gemini", "-p", INSTRUCTIONS_PLACEHOLDER],
};
