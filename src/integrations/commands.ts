/**
 * The command lines of `install-mcp`, `skills install`, `instructions install` and `hooks install`.
 * Only the wiring lives here; the work is imported when a command runs, so CLI start-up stays fast.
 */
import type { Command } from "commander";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const dryRun = ["--dry-run", "print the diff of what would change; write nothing"] as const;
const json = ["--json", "print one JSON envelope: {ok, data} or {ok:false, error}"] as const;
const command = [
  "--command <path>",
  "how the host should start baton (default: `baton` if on PATH, else this node and script)",
] as const;

export function registerIntegrationCommands(program: Command, onExit: (code: number) => void): void {
  program
    .command("install-mcp")
    .description(
      "Add baton's MCP server to agent hosts' config (keeps other keys and comments; backup; idempotent)",
    )
    .option(
      "--host <name>",
      "vscode, claude-code, claude-desktop, cursor, windsurf, codex, gemini, cline, zed, opencode (repeatable)",
      collect,
    )
    .option("--all", "every supported host found on this machine (config folder or program on PATH)")
    .option("--scope <scope>", "project (files in this repo) or user (default)")
    .option("--tools <set>", "tool set the host gets: default or full")
    .option(
      "--trust",
      "also set the host's run-without-asking switch (Gemini `trust`, Claude Code project approval); off by default",
    )
    .option(...command)
    .option(...dryRun)
    .option(...json)
    .action(async (opts: Record<string, unknown>) => {
      const { runInstallMcp } = await import("./run.js");
      onExit(await runInstallMcp(opts));
    });

  const skills = program.command("skills").description("Agent skills that teach agents to use baton");
  skills
    .command("install")
    .description("Write the baton SKILL.md to ~/.claude/skills/baton/ and ~/.agents/skills/baton/")
    .option("--scope <scope>", "user (default) or project")
    .option(...dryRun)
    .option(...json)
    .action(async (opts: Record<string, unknown>) => {
      const { runSkillsInstall } = await import("./run.js");
      onExit(await runSkillsInstall(opts));
    });

  const instructions = program.command("instructions").description("Agent instruction files of this project");
  instructions
    .command("install")
    .description(
      "Add (or replace) the marked baton block in AGENTS.md and the project's other agent instruction files",
    )
    .option(
      "--target <name>",
      "agents, copilot, cursor or claude (repeatable; default: AGENTS.md + those present)",
      collect,
    )
    .option("--all", "every target")
    .option(...dryRun)
    .option(...json)
    .action(async (opts: Record<string, unknown>) => {
      const { runInstructionsInstall } = await import("./run.js");
      onExit(await runInstructionsInstall(opts));
    });

  const hooks = program.command("hooks").description("Session-start hooks that make agents resume unasked");
  hooks
    .command("install")
    .description("Add a Claude Code SessionStart hook running `baton resume --hook`")
    .option("--scope <scope>", "user (default) or project")
    .option(...command)
    .option(...dryRun)
    .option(...json)
    .action(async (opts: Record<string, unknown>) => {
      const { runHooksInstall } = await import("./run.js");
      onExit(await runHooksInstall(opts));
    });
}
