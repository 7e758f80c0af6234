/**
 * `baton hooks install`: a Claude Code SessionStart hook that runs `baton resume --hook`, whose
 * output Claude Code adds to the new chat's context, so the agent resumes unfinished work without
 * being asked. Written to `~/.claude/settings.json` (or the project's `.claude/settings.json`),
 * as an upsert that keeps every other setting, hook and comment.
 */
import { join } from "node:path";
import { findProject } from "../core/project.js";
import type { FileChange } from "./files.js";
import { home, readText } from "./files.js";
import type { Scope } from "./hosts.js";
import { shellJoin } from "./hosts.js";
import { upsertArrayElement } from "./jsonc.js";

export function claudeSettingsPath(scope: Scope, cwd: string): string {
  return join(scope === "project" ? findProject(cwd) : home(), ".claude", "settings.json");
}

export function hookCommand(command: readonly string[]): string {
  return shellJoin([...command, "resume", "--hook"]);
}

/** Is this SessionStart entry ours (whatever path to baton it names)? */
function isBatonEntry(element: unknown): boolean {
  const hooks = (element as { hooks?: unknown } | null)?.hooks;
  return (
    Array.isArray(hooks) &&
    hooks.some(
      (h) =>
        typeof (h as { command?: unknown }).command === "string" &&
        /\bresume --hook\b/.test((h as { command: string }).command) &&
        /baton/.test((h as { command: string }).command),
    )
  );
}

export function planHooks(scope: Scope, cwd: string, command: readonly string[]): FileChange[] {
  const path = claudeSettingsPath(scope, cwd);
  const before = readText(path);
  const entry = { hooks: [{ type: "command", command: hookCommand(command) }] };
  const after = upsertArrayElement(path, before, ["hooks", "SessionStart"], entry, isBatonEntry);
  return [{ path, before, after, label: "claude-code-hooks" }];
}
