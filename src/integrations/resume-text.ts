/**
 * Resume output as prose for an agent: the MCP `resume` prompt and the session-start hook
 * (`baton resume --hook`) both start a chat from it.
 */
import type { ResumeOutput } from "../ops/resume.js";

/** What is left, workflow by workflow, then the hint on how to carry on. */
export function resumeText(data: ResumeOutput): string {
  if (data.remaining === 0) return `Nothing is left to do in ${data.project}.`;
  const lines = [`Unfinished baton work in ${data.project} (${data.remaining} left):`];
  for (const w of data.workflows) {
    lines.push(
      `workflow ${w.workflow}: ${w.remaining} left, ${w.done} done${w.failed > 0 ? `, ${w.failed} failed` : ""}`,
    );
    if (w.lastDone !== undefined) lines.push(`  last done: ${w.lastDone}`);
    for (const t of w.tasks) lines.push(`  ${t}`);
    if (w.more > 0) lines.push(`  … and ${w.more} more (list_tasks shows them)`);
    for (const f of w.failedTasks ?? []) lines.push(`  failed: ${f}`);
  }

  lines.push(data.hint);
  return lines.join("\n");
}

/**
 * The text a session-start hook prints into a new chat's context, or "" when nothing is left (the
 * hook then adds nothing at all).
 */
export function hookText(data: ResumeOutput): string {
  if (data.remaining === 0) return "";
  return [
    "baton (durable work ledger): a previous chat left unfinished work in this project. Resume it before starting anything new.",
    resumeText(data),
    "Use the baton MCP tools (resume_session, check_task, complete_task with evidence, fail_task) or the CLI (`baton show <id>`, `baton complete <id> --evidence …`).",
  ].join("\n");
}
