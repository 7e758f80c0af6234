/**
 * `baton skills install`: an Agent Skill (a folder with a SKILL.md) that teaches an agent when and
 * how to use baton. Written to `~/.claude/skills/baton/` (Claude Code) and `~/.agents/skills/baton/`
 * (the shared location other agents read), or under the project with `--scope project`.
 */
import { join } from "node:path";
import { findProject } from "../core/project.js";
import type { FileChange } from "./files.js";
import { home, readText } from "./files.js";
import type { Scope } from "./hosts.js";

export const SKILL_NAME = "baton";

export const SKILL_DESCRIPTION =
  "Durable checkpoints for multi-step coding work, kept by baton (an MCP server and CLI). Use it when a " +
  "task spans several files or steps, when the chat might crash, be compacted or run out of context, when " +
  "the user asks to resume or continue earlier work, or to record evidence of what was done. Enqueue one " +
  "task per unit of work before starting, complete each with evidence, and call resume_session at the " +
  "start of a chat to continue exactly what is left.";

/** The SKILL.md text: YAML front matter (name, description), then the instructions. */
export function skillMarkdown(): string {
  return `---
name: ${SKILL_NAME}
description: ${SKILL_DESCRIPTION}
---

# baton: durable checkpoints

baton keeps a ledger of tasks on disk (SQLite), outside the chat. A crashed or restarted chat loses
nothing: the next one asks baton what is left and carries on.

## At the start of a chat

Call the \`resume_session\` tool with \`cwd\` set to the project directory (or run
\`baton resume\`). It lists the unfinished tasks per workflow, newest context first, with the last
completed task and its evidence. If tasks are left, continue with them before anything new.

## Before multi-step work

Enqueue one task per unit of work (a file to edit, a test to fix), all in one workflow, in one call:

\`\`\`json
{ "cwd": "/path/to/project", "workflow": "migrate-to-esm",
  "tasks": [ { "name": "src/a.ts", "payload": { "file": "src/a.ts" } },
             { "name": "src/b.ts", "payload": { "file": "src/b.ts" } } ] }
\`\`\`

## After each unit

Call \`complete_task\` with the task id and evidence of what changed (files, a test result, a short
summary). Several at once: \`items: [{ id, evidence }, …]\`. If a unit cannot be done, call
\`fail_task\` with the error. Never mark a task done that was not done.

## Looking things up

- \`check_task\`: one task in full (payload, evidence, attempts, events).
- \`list_tasks\`: tasks by state, workflow, tag or text.
- \`audit_log\`: who did what and when, with evidence.
- \`health\`: is the ledger reachable, and how much is in each state.

Without the MCP server the CLI does the same: \`baton enqueue\`, \`baton complete <id> --evidence …\`,
\`baton resume\`, \`baton list\`, \`baton show <id>\`, \`baton audit\` (add \`--json\` for JSON).
`;
}

/** Checks that make a SKILL.md loadable: name rules, description length, folder match. */
export function validateSkill(text: string, folder: string): string[] {
  const problems: string[] = [];
  const m = /^---\n([\s\S]*?)\n---\n/.exec(text);
  if (m === null) return ["no YAML front matter"];
  const fields = new Map<string, string>();
  for (const line of m[1]!.split("\n")) {
    const kv = /^([a-z-]+):\s*(.*)$/.exec(line);
    if (kv !== null) fields.set(kv[1]!, kv[2]!);
  }
  const name = fields.get("name");
  const description = fields.get("description");
  if (name === undefined) problems.push("no name");
  else {
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name) || name.length > 64) problems.push(`invalid name '${name}'`);
    if (name !== folder) problems.push(`name '${name}' does not match its folder '${folder}'`);
  }
  if (description === undefined || description.trim() === "") problems.push("no description");
  else if (description.length > 1024)
    problems.push(`description is ${description.length} characters (max 1024)`);
  return problems;
}

/** The skill folders for a scope. */
export function skillDirs(scope: Scope, cwd: string): string[] {
  const root = scope === "project" ? findProject(cwd) : home();
  return [join(root, ".claude", "skills", SKILL_NAME), join(root, ".agents", "skills", SKILL_NAME)];
}

export function planSkills(scope: Scope, cwd: string): FileChange[] {
  const text = skillMarkdown();
  return skillDirs(scope, cwd).map((dir) => {
    const path = join(dir, "SKILL.md");
    return { path, before: readText(path), after: text, label: "skills" };
  });
}
