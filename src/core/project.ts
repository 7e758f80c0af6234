import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * The project a working directory belongs to: the nearest ancestor holding `.git` (a directory or,
 * for worktrees and submodules, a file), else the directory itself. No subprocess: the CLI calls
 * this on every invocation.
 */
export function findProject(cwd: string): string {
  const start = resolve(cwd);
  let dir = start;
  for (;;) {
    if (existsSync(`${dir}/.git`)) return dir;
    const parent = dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
}
