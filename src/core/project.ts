import { lstatSync, realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * The project a working directory belongs to: the nearest ancestor holding `.git` (a directory or,
 * for worktrees and submodules, a file), else the directory itself. No subprocess: the CLI calls
 * this on every invocation.
 *
 * A `.git` counts only when it is the caller's or root's, as git's own `safe.directory` rule has
 * it: an empty `.git` another local user makes in a shared folder above the project (/tmp) would
 * otherwise move the project there, where that user's `baton.yaml` would be read for it (and
 * refused as theirs: every task gone) and its jobs filed under the shared folder (D136).
 */
export function findProject(cwd: string): string {
  const start = realPath(resolve(cwd));
  const uid = process.getuid?.();
  let dir = start;
  for (;;) {
    const git = lstatSync(`${dir}/.git`, { throwIfNoEntry: false });
    if (
      git !== undefined &&
      (git.isDirectory() || git.isFile()) &&
      (uid === undefined || git.uid === uid || git.uid === 0)
    )
      return dir;
    const parent = dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
}

/**
 * A folder reached through a symlink is the folder itself: the kernel gives a process that
 * `cd`s through a link the real path, so a `project` or `cwd` naming the link must be read the
 * same or one project is filed under two names (stranger s21h). A path that does not exist (the
 * callers check that first where it matters) is kept as given.
 */
function realPath(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}
