/**
 * `baton instructions install`: a marked block in the project's agent instruction files (AGENTS.md,
 * `.github/copilot-instructions.md`, `.cursor/rules/baton.mdc`, CLAUDE.md) telling the agent to
 * resume and checkpoint with baton. The block sits between `<!-- baton:begin -->` and
 * `<!-- baton:end -->`; running again replaces exactly that block and nothing else.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InvalidInputError } from "../core/errors.js";
import { findProject } from "../core/project.js";
import type { FileChange } from "./files.js";
import { readText } from "./files.js";

export const BEGIN = "<!-- baton:begin -->";
export const END = "<!-- baton:end -->";

export const INSTRUCTION_TARGETS = ["agents", "copilot", "cursor", "claude"] as const;
export type InstructionTarget = (typeof INSTRUCTION_TARGETS)[number];

export function targetPath(target: InstructionTarget, project: string): string {
  switch (target) {
    case "agents":
      return join(project, "AGENTS.md");
    case "copilot":
      return join(project, ".github", "copilot-instructions.md");
    case "cursor":
      return join(project, ".cursor", "rules", "baton.mdc");
    case "claude":
      return join(project, "CLAUDE.md");
    default: {
      const never: never = target;
      throw new InvalidInputError(`unknown instructions target '${String(never)}'`);
    }
  }
}

export function instructionsBlock(): string {
  return `${BEGIN}
## Durable work with baton

This project uses baton to checkpoint multi-step work so a crashed or restarted chat loses nothing.

- At the start of a chat, call the \`resume_session\` tool (pass \`cwd\`) or run \`baton resume\`,
  and continue the tasks it lists before starting anything new.
- Before multi-step work, enqueue one task per unit (e.g. per file) in one workflow with
  \`enqueue_task\` (\`tasks\` for a batch) or \`baton enqueue\`.
- After each unit, call \`complete_task\` with evidence of what changed (\`baton complete <id>
  --evidence …\`); if it cannot be done, \`fail_task\` with the error.
${END}`;
}

const CURSOR_FRONT_MATTER = `---
description: Checkpoint multi-step work with baton and resume it after a crash
alwaysApply: true
---
`;

/** Insert or replace the baton block in `text` (null: a new file). */
export function upsertBlock(path: string, text: string | null, block: string, prefix = ""): string {
  if (text === null || text.trim() === "") return `${prefix}${block}\n`;
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const withEol = block.split("\n").join(eol);
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin !== -1 && end !== -1 && end > begin)
    return text.slice(0, begin) + withEol + text.slice(end + END.length);
  if (begin !== -1 || end !== -1) {
    throw new InvalidInputError(
      `${path} has only one of the baton markers: fix or remove it by hand (nothing was changed)`,
    );
  }
  const separator = text.endsWith(`${eol}${eol}`) ? "" : text.endsWith(eol) ? eol : `${eol}${eol}`;
  return `${text}${separator}${withEol}${eol}`;
}

/**
 * Which files to write: the named targets, else AGENTS.md plus each of the others whose file or
 * folder the project already has (a repo without `.cursor/` gets no Cursor rule).
 */
export function defaultTargets(project: string): InstructionTarget[] {
  const targets: InstructionTarget[] = ["agents"];
  if (existsSync(join(project, ".github"))) targets.push("copilot");
  if (existsSync(join(project, ".cursor"))) targets.push("cursor");
  if (existsSync(join(project, "CLAUDE.md"))) targets.push("claude");
  return targets;
}

export function planInstructions(
  cwd: string,
  targets: readonly InstructionTarget[] | undefined,
): FileChange[] {
  const project = findProject(cwd);
  const chosen =
    targets === undefined || targets.length === 0 ? defaultTargets(project) : [...new Set(targets)];
  const block = instructionsBlock();
  return chosen.map((target) => {
    const path = targetPath(target, project);
    const before = readText(path);
    const after = upsertBlock(path, before, block, target === "cursor" ? CURSOR_FRONT_MATTER : "");
    return { path, before, after, label: "instructions" };
  });
}
